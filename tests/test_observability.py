"""/metrics, Server-Timing, request ids and the access log."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable

import pytest
from litestar import Litestar
from litestar.testing import TestClient
from prometheus_client.parser import text_string_to_metric_families

from rag.config import Settings
from rag.http.observability import JsonFormatter, RequestIdFilter, request_id, server_timing
from tests.conftest import tuned

KEY = "test-key-0123456789abcdef"


def _samples(client: TestClient[Litestar]) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    response = client.get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


def _value(samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    return sum(v for (n, ls), v in samples.items() if n == name and set(labels.items()) <= ls)


def test_metrics_count_requests_answers_abstentions_and_index_size(client: TestClient[Litestar]) -> None:
    before = _samples(client)
    answered = client.post("/ask", json={"question": "What does Moscow insist Ukraine must do?"}).json()
    abstained = client.post("/ask", json={"question": "How many kilometres is it from the Moon to Mars?"}).json()
    assert not answered["abstained"] and abstained["abstained"]
    client.get("/documents/us-ukraine-russia-negotiations")
    after = _samples(client)

    def grew(name: str, **labels: str) -> float:
        return _value(after, name, **labels) - _value(before, name, **labels)

    assert grew("rag_answers_total", outcome="answered") == 1
    assert grew("rag_answers_total", outcome="abstained") == 1
    assert grew("rag_http_requests_total", path="/ask", method="POST", status_code="200") == 2
    # Routes are labelled by template, so document ids never become label values.
    assert grew("rag_http_requests_total", path="/documents/{doc_id}", method="GET") == 1
    assert not any("us-ukraine" in str(labels) for _, labels in after)
    assert grew("rag_http_request_duration_seconds_count", path="/ask") == 2
    for stage in ("embed", "retrieve", "answer", "total"):
        assert grew("rag_ask_stage_seconds_count", stage=stage) == 2
    health = client.get("/health").json()
    assert _value(after, "rag_index_documents") == health["documents"]
    assert _value(after, "rag_index_chunks") == health["chunks"] > 0
    assert _value(after, "rag_index_sentences") > 0


def test_index_gauges_follow_document_changes(
    make_client: Callable[..., TestClient[Litestar]], settings: Settings
) -> None:
    client = make_client(tuned(settings, rate_limit={"enabled": False}, security={"api_key": KEY}))
    documents = _value(_samples(client), "rag_index_documents")
    changes = _value(_samples(client), "rag_document_changes_total", action="added")
    body = {"doc_id": "ferry", "text": "# Ferry\n\nThe ferry leaves at noon from pier 4.\n"}
    assert client.post("/documents?wait=true", json=body, headers={"X-API-Key": KEY}).status_code == 201
    samples = _samples(client)
    assert _value(samples, "rag_index_documents") == documents + 1
    assert _value(samples, "rag_document_changes_total", action="added") == changes + 1


def test_metrics_follow_read_requires_key(make_client: Callable[..., TestClient[Litestar]], settings: Settings) -> None:
    security = {"api_key": KEY, "read_requires_key": True}
    closed = make_client(tuned(settings, rate_limit={"enabled": False}, security=security))
    assert closed.get("/metrics").status_code == 401
    assert closed.get("/metrics", headers={"Authorization": f"Bearer {KEY}"}).status_code == 200


def test_metrics_are_not_in_the_schema(client: TestClient[Litestar]) -> None:
    paths = client.get("/schema/openapi.json").json()["paths"]
    assert "/metrics" not in paths


def test_ask_carries_server_timing(client: TestClient[Litestar]) -> None:
    response = client.post("/ask", json={"question": "Who leads the negotiations?"})
    header = response.headers["server-timing"]
    entries = dict(re.fullmatch(r"(\w+);dur=([\d.]+)", part.strip()).groups() for part in header.split(","))  # type: ignore[union-attr]
    assert list(entries) == ["embed", "retrieve", "answer", "total"]
    timings = response.json()["timings_ms"]
    assert {k: float(v) for k, v in entries.items()} == pytest.approx(timings, abs=0.001)
    assert "server-timing" not in client.get("/health").headers


def test_a_repeated_question_is_timed_as_a_cache_hit(client: TestClient[Litestar]) -> None:
    question = {"question": "Who leads the negotiations?"}
    first = client.post("/ask", json=question)
    again = client.post("/ask", json=question)
    assert [part.split(";")[0].strip() for part in again.headers["server-timing"].split(",")] == ["cache", "total"]
    assert again.json()["answer"] == first.json()["answer"]
    assert 'rag_ask_stage_seconds_count{stage="cache"}' in client.get("/metrics").text


def test_server_timing_skips_odd_names() -> None:
    assert server_timing({"embed": 1.23456, "bad name": 2.0, "total": 3}) == "embed;dur=1.235, total;dur=3.000"


def test_request_ids_are_echoed_or_assigned(client: TestClient[Litestar]) -> None:
    echoed = client.get("/health", headers={"X-Request-ID": "req-42.a:b_c"})
    assert echoed.headers["x-request-id"] == "req-42.a:b_c"
    first, second = client.get("/health"), client.get("/health")
    assert re.fullmatch(r"[0-9a-f]{32}", first.headers["x-request-id"])
    assert first.headers["x-request-id"] != second.headers["x-request-id"]
    for junk in ["has spaces", "x" * 129, 'quote"s', "new\\nline"]:
        replaced = client.get("/health", headers={"X-Request-ID": junk})
        assert re.fullmatch(r"[0-9a-f]{32}", replaced.headers["x-request-id"]), junk
    # Unknown routes, errors and static files carry one too.
    assert client.get("/no/such/route").headers["x-request-id"]
    assert client.post("/ask", json={"question": ""}).headers["x-request-id"]
    assert client.get("/static/app.js").headers["x-request-id"]
    assert len(client.get("/health", headers={"X-Request-ID": "dup"}).headers.get_list("x-request-id")) == 1


def test_one_access_log_line_per_request_without_query_or_secrets(
    make_client: Callable[..., TestClient[Litestar]], settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    client = make_client(tuned(settings, rate_limit={"enabled": False}, security={"api_key": KEY}))
    caplog.set_level(logging.INFO, logger="rag.access")
    caplog.clear()
    client.get("/search", params={"q": "secret question words"}, headers={"X-Request-ID": "trace-1"})
    client.post("/documents", json={"doc_id": "x", "text": "private text"}, headers={"X-API-Key": KEY + "wrong"})
    client.get("/nowhere")
    lines = [r for r in caplog.records if r.name == "rag.access"]
    assert [(r.method, r.path, r.status) for r in lines] == [  # type: ignore[attr-defined]
        ("GET", "/search", 200),
        ("POST", "/documents", 401),
        ("GET", "/nowhere", 404),
    ]
    assert all(r.duration_ms >= 0 for r in lines)  # type: ignore[attr-defined]
    assert lines[0].getMessage().startswith("GET /search 200 ")
    text = caplog.text + " ".join(str(r.__dict__) for r in caplog.records)
    for secret in ("secret", "question words", "private text", KEY):
        assert secret not in text


def test_log_lines_carry_the_request_id_as_json() -> None:
    record = logging.LogRecord("rag.access", logging.INFO, __file__, 1, "GET / 200 1.0ms", None, None)
    record.status = 200
    token = request_id.set("abc")
    try:
        assert RequestIdFilter().filter(record)
    finally:
        request_id.reset(token)
    entry = json.loads(JsonFormatter().format(record))
    assert entry["request_id"] == "abc" and entry["status"] == 200 and entry["msg"] == "GET / 200 1.0ms"
    assert entry["level"] == "INFO" and entry["logger"] == "rag.access"
