"""The HTTP API over the fake embedder: every endpoint, its documented errors, and the schema."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from rag.config import Settings
from tests.conftest import SEED, AppMaker

DOC_ID = "us-ukraine-russia-negotiations"
SEED_TEXT = SEED.read_bytes().decode("utf-8")
PROBLEM_KEYS = {"type", "title", "status", "detail", "instance"}


def assert_problem(response: Any, status: int, detail: str = "") -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert set(body) == PROBLEM_KEYS and body["status"] == status and body["type"] == "about:blank"
    assert detail in body["detail"], body
    return body


def test_ask_answers_with_citations_that_verify(client: TestClient[Litestar]) -> None:
    response = client.post("/ask", json={"question": "What does Moscow insist Ukraine must do?", "top_k": 3})
    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"question", "answer", "abstained", "confidence", "citations", "passages", "timings_ms"}
    assert len(body["passages"]) == 3 and [p["rank"] for p in body["passages"]] == [1, 2, 3]
    assert 0.0 <= body["confidence"] <= 1.0
    assert set(body["timings_ms"]) == {"embed", "retrieve", "answer", "total"}
    text = client.get(f"/documents/{DOC_ID}").json()["text"]
    for passage in body["passages"]:
        assert text[passage["start"] : passage["end"]] == passage["text"]
    for citation in body["citations"]:
        assert text[citation["start"] : citation["end"]] == citation["quote"]


def test_ask_with_explain_returns_the_best_candidates_and_why(client: TestClient[Litestar]) -> None:
    question = {"question": "What does Moscow insist Ukraine must do?"}
    body = client.post("/ask", json={**question, "explain": True}).json()
    assert 1 <= len(body["explain"]) <= 5
    assert [c["score"] for c in body["explain"]] == sorted((c["score"] for c in body["explain"]), reverse=True)
    text = client.get(f"/documents/{DOC_ID}").json()["text"]
    for candidate in body["explain"]:
        assert set(candidate) == {"text", "doc_id", "start", "end", "kind", "label", "score", "features"}
        first_part = candidate["text"].split("; ")[0]
        assert text[candidate["start"] : candidate["start"] + len(first_part)] == first_part
        assert candidate["features"] and all(isinstance(v, float) for v in candidate["features"].values())
    plain = client.post("/ask", json=question).json()
    assert "explain" not in plain and plain["answer"] == body["answer"]


def test_search_returns_ranked_exact_passages(client: TestClient[Litestar]) -> None:
    body = client.get("/search", params={"q": "territorial demands", "k": 4}).json()
    assert body["query"] == "territorial demands"
    assert [p["rank"] for p in body["passages"]] == [1, 2, 3, 4]
    scores = [p["score"] for p in body["passages"]]
    assert scores == sorted(scores, reverse=True)
    for passage in body["passages"]:
        assert SEED_TEXT[passage["start"] : passage["end"]] == passage["text"]
    assert len(client.get("/search", params={"q": "territorial demands"}).json()["passages"]) == 5  # top_k


def test_documents_list_and_raw_text(client: TestClient[Litestar]) -> None:
    listing = client.get("/documents").json()
    assert [d["doc_id"] for d in listing] == [DOC_ID]
    assert set(listing[0]) == {"doc_id", "title", "path", "sha256", "chars", "collection", "metadata"}
    assert listing[0]["chars"] == len(SEED_TEXT)
    document = client.get(f"/documents/{DOC_ID}").json()
    assert document["text"] == SEED_TEXT and document["sha256"] == listing[0]["sha256"]


def test_spans_return_the_exact_text_with_context(client: TestClient[Litestar]) -> None:
    start = SEED_TEXT.index("competing territorial demands")
    end = start + len("competing territorial demands")
    view = client.get(f"/documents/{DOC_ID}/spans", params={"start": start, "end": end, "context": 10}).json()
    assert view["text"] == "competing territorial demands"
    assert view["before"] == SEED_TEXT[start - 10 : start] and view["after"] == SEED_TEXT[end : end + 10]
    assert (view["context_start"], view["context_end"]) == (start - 10, end + 10)
    whole = client.get(f"/documents/{DOC_ID}/spans", params={"start": 0, "end": len(SEED_TEXT)}).json()
    assert whole["text"] == SEED_TEXT and whole["before"] == whole["after"] == ""


@pytest.mark.parametrize(
    ("params", "status", "detail"),
    [
        ({"start": 10, "end": 5}, 404, f"no span [10, 5) in document '{DOC_ID}': it has 10000 characters; start"),
        ({"start": 7, "end": 7}, 404, "no span [7, 7)"),
        ({"start": 0, "end": len(SEED_TEXT) + 1}, 404, f"end must be <= {len(SEED_TEXT)}"),
        ({"start": 10**30, "end": 10**30 + 1}, 404, "it has 10000 characters"),
        ({"start": -1, "end": 5}, 400, "start Expected `int` >= 0"),
        ({"start": "abc", "end": 5}, 400, "start Expected `int`, got `str`"),
        ({"start": "1.5", "end": 5}, 400, "start Expected `int`, got `str`"),
        ({"start": 1}, 400, "Missing required query parameter 'end'"),
        ({"start": 0, "end": 5, "context": -1}, 400, "context Expected `int` >= 0"),
        ({"start": 0, "end": 5, "context": 10_001}, 400, "context Expected `int` <= 10000"),
    ],
)
def test_bad_spans_are_clear_4xx(
    client: TestClient[Litestar], params: dict[str, Any], status: int, detail: str
) -> None:
    assert_problem(client.get(f"/documents/{DOC_ID}/spans", params=params), status, detail)


def test_unknown_documents_are_404(client: TestClient[Litestar]) -> None:
    body = assert_problem(client.get("/documents/nope"), 404, "no document with id 'nope'")
    assert body["instance"] == "/documents/nope"
    assert_problem(client.get("/documents/nope/spans", params={"start": 0, "end": 1}), 404, "'nope'")


def test_health_and_ready(client: TestClient[Litestar]) -> None:
    health = client.get("/health").json()
    assert health["status"] == "ok" and health["ready"] is True
    assert health["documents"] == 1 and health["chunks"] > 0 and len(health["index_version"]) == 16
    assert client.get("/ready").status_code == 200


def test_before_the_index_loads_reads_are_503_and_ready_is_false(make_app: AppMaker) -> None:
    client = TestClient(app=make_app())  # not entered: the lifespan (index loading) has not run
    assert client.get("/health").json() == {
        "status": "starting", "ready": False, "index_version": None, "documents": 0, "chunks": 0,
    }  # fmt: skip
    assert client.get("/ready").status_code == 503
    assert_problem(client.post("/ask", json={"question": "Anything?"}), 503, "not loaded yet")
    assert_problem(client.get("/documents"), 503, "not loaded yet")


def test_openapi_schema_documents_every_route_and_its_problems(client: TestClient[Litestar]) -> None:
    response = client.get("/schema/openapi.json")
    assert response.status_code == 200
    schema = response.json()
    paths = schema["paths"]
    assert set(paths) >= {  # other modules may add routes (rag.http.plugin)
        "/ask", "/search", "/documents", "/documents/{doc_id}", "/documents/{doc_id}/spans", "/health", "/ready",
        "/admin/reindex",
    }  # fmt: skip
    for path, operations in paths.items():
        for method, operation in operations.items():
            for status, spec in operation["responses"].items():
                if int(status) >= 400:
                    assert set(spec["content"]) == {"application/problem+json"}, (path, method, status)
    ask_errors = set(paths["/ask"]["post"]["responses"])
    assert {"400", "413", "415", "422", "429", "503"} <= ask_errors
    assert paths["/admin/reindex"]["post"]["security"] == [{"apiKey": []}]
    assert schema["components"]["securitySchemes"]["apiKey"] == {"type": "apiKey", "name": "X-API-Key", "in": "header"}
    # Every body refuses unknown fields, and the schema says so (nested filters too), or fuzzers
    # send bodies the schema allows and the server rejects.
    components = schema["components"]["schemas"]
    bodies = [
        operation["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
        for operations in paths.values()
        for operation in operations.values()
        if "requestBody" in operation
    ]
    assert {"AskRequest", "DocumentUpload"} <= set(bodies)
    for name in [*bodies, "SearchFilter"]:
        assert components[name]["additionalProperties"] is False, name


def test_the_request_deadline_answers_503_instead_of_hanging(make_client: Any, settings: Settings) -> None:
    import time

    from tests.conftest import fake_service_factory, tuned

    def slow_service(s: Settings) -> Any:
        service = fake_service_factory(s)
        real_ask = service.ask

        def slow_ask(*arguments: Any) -> Any:
            time.sleep(2.0)
            return real_ask(*arguments)

        service.ask = slow_ask  # type: ignore[method-assign]
        return service

    client = make_client(
        tuned(settings, server={"request_timeout_s": 0.2}, rate_limit={"enabled": False}), service_factory=slow_service
    )
    started = time.monotonic()
    response = client.post("/ask", json={"question": "What does Moscow insist Ukraine must do?"})
    assert time.monotonic() - started < 1.5
    assert_problem(response, 503, "did not finish within 0.2 s")
    assert response.headers["retry-after"] == "5"
    assert client.get("/health").status_code == 200  # the server is still serving


def test_seed_folder_changes_do_not_leak_paths_outside_documents(client: TestClient[Litestar], tmp_path: Path) -> None:
    # Document ids come from file names and are looked up in memory, never opened as paths.
    (tmp_path / "secret.txt").write_text("not a seed", encoding="utf-8")
    for probe in ["../secret", "..%2Fsecret", "%2e%2e%2fsecret", "..%252Fsecret"]:
        response = client.get(f"/documents/{probe}")
        assert response.status_code == 404 and "not a seed" not in response.text


def test_contradictory_collections_match_nothing_as_any_empty_filter(client: TestClient[Litestar]) -> None:
    """``collection`` and ``filters.collection`` naming different collections admit no document:
    the same abstention (200, no sources) as a filter that matches no document, not a 422."""
    question = "What does Moscow insist Ukraine must do?"
    no_match = client.post("/ask", json={"question": question, "filters": {"collection": "nobody"}})
    contradiction = client.post(
        "/ask", json={"question": question, "collection": "default", "filters": {"collection": "nobody"}}
    )
    for response in (no_match, contradiction):
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["abstained"] and body["citations"] == [] and body["passages"] == []
    contradiction_search = {"q": "Moscow", "collection": "default", "filters": '{"collection": "nobody"}'}
    assert client.get("/search", params=contradiction_search).json()["passages"] == []
    listing = {"collection": "default", "filters": '{"collection": "nobody"}'}
    assert client.get("/documents", params=listing).json() == []
    assert len(client.get("/documents", params={"collection": "default"}).json()) == 1


def test_engine_work_runs_on_at_most_engine_threads_and_the_wait_counts_against_the_deadline(
    settings: Settings,
) -> None:
    import threading
    import time

    import anyio

    from rag.errors import RequestTimedOut
    from rag.http.dependencies import off_loop
    from tests.conftest import tuned

    running, most, lock = 0, 0, threading.Lock()

    def work(seconds: float) -> None:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(seconds)
        with lock:
            running -= 1

    async def six_at_once() -> None:
        slots = anyio.CapacityLimiter(2)
        async with anyio.create_task_group() as group:
            for _ in range(6):
                group.start_soon(off_loop, settings, slots, work, 0.05)

    anyio.run(six_at_once)
    assert most == 2

    short = tuned(settings, server={"request_timeout_s": 0.2})

    async def second_waits_too_long() -> None:
        slots = anyio.CapacityLimiter(1)
        async with anyio.create_task_group() as group:
            group.start_soon(off_loop, settings, slots, work, 0.5)  # holds the only slot
            await anyio.sleep(0.05)
            with pytest.raises(RequestTimedOut):
                await off_loop(short, slots, work, 0.0)

    anyio.run(second_waits_too_long)
