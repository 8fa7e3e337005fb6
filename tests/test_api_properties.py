"""Property tests of the HTTP API: whatever the input, no 5xx, and every citation verifies."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from litestar import Litestar
from litestar.testing import TestClient

ALLOWED = {200, 400, 404, 413, 415, 422}
API_SETTINGS = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)

# Every code point but surrogates (JSON cannot carry them unpaired; see test_bad_input), with
# the interesting ones (controls, combining marks, astral, RTL, zero-width) well represented.
questions = st.one_of(
    st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=300),
    st.lists(
        st.sampled_from(
            ["Moscow", "Ukraine", "cede", "territory", "Kyiv", "talks", "?", " ", "\n", "\x00", "\x07", "\u0301",
             "😀", "𝔘", "\u202e", "\u200b", "İ", "—", "“", "”", "Что", "要求", "ل", "\r\n", "\t"]
        ),
        max_size=40,
    ).map("".join),
    st.text(min_size=1990, max_size=2010, alphabet="ab "),  # around max_question_chars
)  # fmt: skip
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20,
)


def report(seen: list[Any]) -> None:
    print(f"\n{len(seen)} hypothesis cases run")
    assert len(seen) >= 50  # the property was really exercised


class Documents:
    """The documents' texts, fetched once per test through the API."""

    def __init__(self, client: TestClient[Litestar]) -> None:
        self.client = client
        self.texts: dict[str, dict[str, Any]] = {}

    def get(self, doc_id: str) -> dict[str, Any]:
        if doc_id not in self.texts:
            self.texts[doc_id] = self.client.get(f"/documents/{doc_id}").json()
        return self.texts[doc_id]


def check_answer(body: dict[str, Any], docs: Documents) -> None:
    for citation in body["citations"]:
        doc = docs.get(citation["doc_id"])
        assert citation["doc_sha256"] == doc["sha256"]
        assert doc["text"][citation["start"] : citation["end"]] == citation["quote"]
        assert 0 <= citation["answer_start"] <= citation["answer_end"] <= len(body["answer"])
    for passage in body["passages"]:
        assert docs.get(passage["doc_id"])["text"][passage["start"] : passage["end"]] == passage["text"]


def test_any_question_gets_no_5xx_and_citations_that_verify(client: TestClient[Litestar]) -> None:
    docs = Documents(client)
    seen: list[Any] = []

    @API_SETTINGS
    @given(question=questions, top_k=st.one_of(st.none(), st.integers(min_value=-5, max_value=60)))
    def ask(question: str, top_k: int | None) -> None:
        seen.append(question)
        payload: dict[str, Any] = {"question": question} if top_k is None else {"question": question, "top_k": top_k}
        response = client.post("/ask", json=payload)
        assert response.status_code in ALLOWED, (response.status_code, response.text[:300])
        if response.status_code == 200:
            body = response.json()
            assert body["question"] == question.strip()
            check_answer(body, docs)
        else:
            assert response.headers["content-type"] == "application/problem+json"

    ask()
    report(seen)


def test_any_json_body_gets_no_5xx(client: TestClient[Litestar]) -> None:
    seen: list[Any] = []

    @API_SETTINGS
    @given(value=json_values)
    def post(value: Any) -> None:
        seen.append(value)
        response = client.post("/ask", content=json.dumps(value), headers={"content-type": "application/json"})
        assert response.status_code in ALLOWED, (response.status_code, response.text[:300])

    post()
    report(seen)


def test_any_bytes_get_no_5xx(client: TestClient[Litestar]) -> None:
    seen: list[Any] = []

    @API_SETTINGS
    @given(raw=st.binary(max_size=300) | st.text(max_size=200).map(str.encode))
    def post(raw: bytes) -> None:
        seen.append(raw)
        response = client.post("/ask", content=raw, headers={"content-type": "application/json"})
        assert response.status_code in ALLOWED, (response.status_code, response.text[:300])

    post()
    report(seen)


def test_any_search_and_span_parameters_get_no_5xx(client: TestClient[Litestar]) -> None:
    docs = Documents(client)
    seen: list[Any] = []
    doc_ids = st.sampled_from(["us-ukraine-russia-negotiations", "nope", "..", "%2e%2e", "a/b"]) | st.text(
        alphabet=st.characters(exclude_categories=("Cs",)), min_size=1, max_size=30
    )
    integers = st.integers(min_value=-(10**20), max_value=10**20).map(str) | st.text(max_size=8)

    @API_SETTINGS
    @given(q=questions, k=integers, doc_id=doc_ids, start=integers, end=integers)
    def probe(q: str, k: str, doc_id: str, start: str, end: str) -> None:
        seen.append(q)
        found = client.get("/search", params={"q": q, "k": k})
        assert found.status_code in ALLOWED, (found.status_code, found.text[:300])
        span = client.get(f"/documents/{quote(doc_id, safe='')}/spans", params={"start": start, "end": end})
        assert span.status_code in ALLOWED, (span.status_code, span.text[:300])
        if span.status_code == 200:
            view = span.json()
            assert docs.get(view["doc_id"])["text"][int(start) : int(end)] == view["text"]

    probe()
    report(seen)
