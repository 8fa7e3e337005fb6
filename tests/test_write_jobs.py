"""Uploads as queued jobs (issue 12, item 4): 202 and a job to poll, cancellation, writes that
queue instead of failing with 409, the size and corpus limits, and bodies refused unread.

Before the queue, ``POST /documents`` blocked until its build was saved (1 MB took minutes),
could not be cancelled, every other write meanwhile got 409, and a body was read in full before
any limit was applied.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from rag.config import Settings
from rag.embedding.base import Vectors
from rag.engine.jobs import Admission, Job, JobQueue
from rag.engine.service import QAService
from rag.errors import UnknownJob, WritesBusy
from rag.http import jobs as http_jobs
from rag.http.dependencies import LIVE
from tests.conftest import FakeEmbedder, tuned, wait_for_job

KEY = "write-jobs-key-0123456789"
AUTH = {"X-API-Key": KEY}
NOTE = "# Harbour\n\nThe harbour ferry leaves at noon. It returns at six.\n"
MORE = "One more note, long enough to take the corpus over the limit this test sets for it."
LONG = "".join(f"Sentence {i} says the convoy reached checkpoint {i}, and then it rested.\n" for i in range(300))


class GatedEmbedder(FakeEmbedder):
    """Once armed, every build call (many texts) waits at the gate; a question (one text) passes."""

    def __init__(self) -> None:
        self.armed = False
        self.entered = threading.Event()
        self.gate = threading.Event()
        self.build_calls = 0

    def embed(self, texts: Sequence[str]) -> Vectors:
        if self.armed and len(texts) > 1:
            self.build_calls += 1
            self.entered.set()
            assert self.gate.wait(30), "the test never opened the gate"
        return super().embed(texts)


def keyed(settings: Settings, **sections: dict[str, Any]) -> Settings:
    return tuned(settings, security={"api_key": KEY}, rate_limit={"enabled": False}, **sections)


def gated_client(
    make_client: Callable[..., TestClient[Litestar]], settings: Settings, **sections: dict[str, Any]
) -> tuple[TestClient[Litestar], GatedEmbedder]:
    embedder = GatedEmbedder()
    client = make_client(keyed(settings, **sections), service_factory=lambda s: QAService.open(s, embedder=embedder))
    embedder.armed = True
    return client, embedder


def served(client: TestClient[Litestar]) -> set[str]:
    return {d["doc_id"] for d in client.get("/documents").json()}


# -- 202 and a job to poll -------------------------------------------------------------------------


def test_an_upload_answers_202_with_a_job_to_poll(
    make_client: Callable[..., TestClient[Litestar]], settings: Settings
) -> None:
    client = make_client(keyed(settings))
    response = client.post("/documents", json={"doc_id": "harbour", "text": NOTE}, headers=AUTH)
    assert response.status_code == 202, response.text
    job = response.json()
    assert response.headers["location"] == job["url"] == f"/jobs/{job['id']}"
    assert job["kind"] == "upload" and job["document"] == "harbour" and job["status"] in ("queued", "running", "done")
    done = wait_for_job(client, job["url"], AUTH)
    assert done["status"] == "done" and done["error"] is None
    assert done["change"]["action"] == "added" and done["change"]["document"]["doc_id"] == "harbour"
    assert "harbour" in served(client)
    assert client.get(job["url"]).status_code == 401  # jobs need the key


def test_wait_true_answers_as_before_the_queue(
    make_client: Callable[..., TestClient[Litestar]], settings: Settings
) -> None:
    client = make_client(keyed(settings))
    added = client.post("/documents", params={"wait": "true"}, json={"doc_id": "harbour", "text": NOTE}, headers=AUTH)
    assert added.status_code == 201 and added.json()["action"] == "added"
    assert added.headers["location"] == "/documents/harbour"
    again = client.post("/documents?wait=true", json={"doc_id": "harbour", "text": NOTE + "More.\n"}, headers=AUTH)
    assert again.status_code == 200 and again.json()["action"] == "replaced"
    bad = client.post("/documents?wait=true", json={"doc_id": "nul", "text": "a\x00b"}, headers=AUTH)
    assert bad.status_code == 422  # the job's failure, as the synchronous call answered it


def test_a_failed_job_carries_its_problem(make_client: Callable[..., TestClient[Litestar]], settings: Settings) -> None:
    client = make_client(keyed(settings))
    response = client.post("/documents", json={"doc_id": "nul", "text": "a\x00b"}, headers=AUTH)
    job = wait_for_job(client, response.headers["location"], AUTH)
    assert job["status"] == "failed" and job["error"]["status"] == 422 and "NUL" in job["error"]["detail"]
    missing = client.delete("/documents/nope", headers=AUTH)  # waited for: the job's problem
    assert missing.status_code == 404 and "no document with id 'nope'" in missing.json()["detail"]
    assert client.get("/jobs/nope", headers=AUTH).status_code == 404


# -- writes queue instead of failing ----------------------------------------------------------------


def test_a_write_during_an_upload_is_queued_not_409(
    make_client: Callable[..., TestClient[Litestar]], settings: Settings
) -> None:
    client, embedder = gated_client(make_client, settings, jobs={"wait_s": 0.2})  # the removal waits 0.2 s
    first = client.post("/documents", json={"doc_id": "long", "text": LONG}, headers=AUTH)
    assert embedder.entered.wait(10)
    second = client.post("/documents", json={"doc_id": "harbour", "text": NOTE}, headers=AUTH)
    removal = client.delete("/documents/us-ukraine-russia-negotiations", headers=AUTH)
    reindex = client.post("/admin/reindex", headers=AUTH)
    assert [r.status_code for r in (first, second, removal, reindex)] == [202, 202, 202, 202]
    assert client.get(second.headers["location"], headers=AUTH).json()["status"] == "queued"
    assert client.get("/admin/reindex", headers=AUTH).json()["state"] == "queued"
    embedder.gate.set()
    for response in (first, second, removal, reindex):
        assert wait_for_job(client, response.headers["location"], AUTH)["status"] == "done"
    assert served(client) == {"long", "harbour"}
    assert client.get(reindex.headers["location"], headers=AUTH).json()["reindex"]["documents"] == 2


# -- cancellation ----------------------------------------------------------------------------------


def test_a_queued_job_can_be_cancelled(make_client: Callable[..., TestClient[Litestar]], settings: Settings) -> None:
    client, embedder = gated_client(make_client, settings)
    running = client.post("/documents", json={"doc_id": "long", "text": LONG}, headers=AUTH)
    assert embedder.entered.wait(10)
    queued = client.post("/documents", json={"doc_id": "harbour", "text": NOTE}, headers=AUTH)
    cancelled = client.delete(queued.headers["location"], headers=AUTH)
    assert cancelled.status_code == 204 and not cancelled.content
    assert client.get(queued.headers["location"], headers=AUTH).status_code == 404  # cancelled and forgotten
    embedder.gate.set()
    assert wait_for_job(client, running.headers["location"], AUTH)["status"] == "done"
    assert served(client) == {"long", "us-ukraine-russia-negotiations"}
    assert not (Path(settings.paths.seeds) / "harbour.txt").exists()
    assert client.delete(queued.headers["location"], headers=AUTH).status_code == 404  # nothing left to delete


def test_a_running_upload_stops_at_the_next_batch_and_the_old_index_keeps_serving(
    make_client: Callable[..., TestClient[Litestar]], settings: Settings
) -> None:
    client, embedder = gated_client(make_client, settings)
    before = client.get("/health").json()["index_version"]
    response = client.post("/documents", json={"doc_id": "long", "text": LONG}, headers=AUTH)
    assert embedder.entered.wait(10)  # inside the first embedding batch of several
    threading.Timer(0.3, embedder.gate.set).start()  # the batch ends while DELETE waits for it
    cancel = client.delete(response.headers["location"], headers=AUTH)
    assert cancel.status_code == 204, cancel.text
    assert client.get(response.headers["location"], headers=AUTH).status_code == 404  # forgotten
    assert embedder.build_calls == 1  # stopped at the first batch boundary
    assert client.get("/health").json()["index_version"] == before
    assert served(client) == {"us-ukraine-russia-negotiations"}
    assert not (Path(settings.paths.seeds) / "long.txt").exists()
    embedder.armed = False
    again = client.post("/documents?wait=true", json={"doc_id": "long", "text": LONG}, headers=AUTH)
    assert again.status_code == 201  # the queue goes on


def test_deleting_a_finished_job_forgets_it_only_if_it_changed_nothing(
    make_client: Callable[..., TestClient[Litestar]], settings: Settings
) -> None:
    """204 always means "the change was not made": a failed job is forgotten; a done one is 409 and
    kept, since answering 204 would tell the client its upload was cancelled when it was saved."""
    client = make_client(keyed(settings))
    done = client.post("/documents", json={"doc_id": "harbour", "text": NOTE}, headers=AUTH)
    assert wait_for_job(client, done.headers["location"], AUTH)["status"] == "done"
    failed = client.post("/documents", json={"doc_id": "nul", "text": "a\x00b"}, headers=AUTH)
    assert wait_for_job(client, failed.headers["location"], AUTH)["status"] == "failed"
    assert client.delete(failed.headers["location"], headers=AUTH).status_code == 204
    assert client.get(failed.headers["location"], headers=AUTH).status_code == 404
    refused = client.delete(done.headers["location"], headers=AUTH)
    assert refused.status_code == 409 and "too late to cancel" in refused.json()["detail"]
    assert client.get(done.headers["location"], headers=AUTH).json()["status"] == "done"
    assert "harbour" in served(client)


def submitted(client: TestClient[Litestar], run: Callable[[Any], Any]) -> str:
    """The URL of a job that runs ``run`` on the app's write queue (as an upload would)."""
    job = client.app.state[LIVE].jobs.submit(Job("upload", "harbour", run))
    return f"/jobs/{job.id}"


def test_a_job_that_commits_while_delete_waits_is_kept_with_409(
    make_client: Callable[..., TestClient[Litestar]], settings: Settings
) -> None:
    client = make_client(keyed(settings))
    entered, gate = threading.Event(), threading.Event()

    def run(progress: Any) -> str:
        progress("embedding", 0, 1)
        entered.set()
        assert gate.wait(10)
        progress("saving", 1, 1)  # the change is on disk: the cancellation comes too late
        return "saved"

    url = submitted(client, run)
    assert entered.wait(10)
    threading.Timer(0.3, gate.set).start()
    refused = client.delete(url, headers=AUTH)
    assert refused.status_code == 409 and "too late to cancel" in refused.json()["detail"]
    assert client.get(url, headers=AUTH).json()["status"] == "done"  # kept, with its outcome
    assert client.delete(url, headers=AUTH).status_code == 409  # done: still not cancellable


def test_a_job_that_does_not_reach_a_cancellation_point_in_time_is_409(
    make_client: Callable[..., TestClient[Litestar]], settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(http_jobs, "CANCEL_WAIT_S", 0.2)
    client = make_client(keyed(settings))
    entered, gate = threading.Event(), threading.Event()

    def run(progress: Any) -> str:
        entered.set()
        assert gate.wait(10)
        progress("embedding", 1, 1)  # the next cancellation point
        return "never"

    url = submitted(client, run)
    assert entered.wait(10)
    busy = client.delete(url, headers=AUTH)
    assert busy.status_code == 409 and busy.headers["retry-after"] == "1"
    assert "DELETE it again" in busy.json()["detail"]
    assert client.get(url, headers=AUTH).json()["cancel_requested"] is True
    gate.set()
    assert wait_for_job(client, url, AUTH)["status"] == "cancelled"
    assert client.delete(url, headers=AUTH).status_code == 204


# -- limits ---------------------------------------------------------------------------------------


def test_a_document_over_max_document_bytes_is_413(
    make_client: Callable[..., TestClient[Litestar]], settings: Settings
) -> None:
    client = make_client(keyed(settings, documents={"max_document_bytes": 1000}))
    response = client.post("/documents", json={"doc_id": "big", "text": "é" * 600}, headers=AUTH)  # 1200 bytes
    assert response.status_code == 413 and "max_document_bytes (1000)" in response.json()["detail"]
    assert (
        client.post("/documents?wait=true", json={"doc_id": "small", "text": "é" * 400}, headers=AUTH).status_code
        == 201
    )


@pytest.mark.parametrize(
    ("limits", "setting"),
    [
        ({"max_documents": 1}, "[documents] max_documents"),
        ({"max_corpus_chars": 10_050}, "[documents] max_corpus_chars"),
    ],
)
def test_a_full_corpus_is_507_naming_the_setting(
    make_client: Callable[..., TestClient[Litestar]], settings: Settings, limits: dict[str, int], setting: str
) -> None:
    client = make_client(keyed(settings, documents=limits))
    response = client.post("/documents", json={"doc_id": "more", "text": MORE}, headers=AUTH)
    assert response.status_code == 507 and setting in response.json()["detail"]
    assert not (Path(settings.paths.seeds) / "more.txt").exists()


def raw_post(base: str, content_length: int, timeout: float = 5.0) -> bytes:
    """Send only the headers of a POST /documents that announces ``content_length`` bytes."""
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        sock.sendall(
            f"POST /documents HTTP/1.1\r\nHost: x\r\nX-API-Key: {KEY}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {content_length}\r\n\r\n".encode()
        )
        return sock.recv(65536)  # the answer arrives although the body never does


def test_a_body_that_cannot_fit_is_refused_before_it_is_read(
    live_server: Callable[..., str], settings: Settings
) -> None:
    base = live_server(keyed(settings, documents={"max_document_bytes": 1000}))
    answer = raw_post(base, 2 * 1000 + 65_536 + 1)
    assert answer.startswith(b"HTTP/1.1 413") and b"was not read" in answer and b"max_document_bytes" in answer


def test_a_second_large_body_is_refused_unread_while_the_queue_is_full(
    live_server: Callable[..., str], settings: Settings
) -> None:
    embedder = GatedEmbedder()
    base = live_server(
        keyed(settings, jobs={"queue_size": 1}), service_factory=lambda s: QAService.open(s, embedder=embedder)
    )
    embedder.armed = True
    import httpx

    try:
        first = httpx.post(f"{base}/documents", json={"doc_id": "long", "text": LONG}, headers=AUTH, timeout=10)
        assert first.status_code == 202 and embedder.entered.wait(10)
        answer = raw_post(base, 5_000_000)
        assert answer.startswith(b"HTTP/1.1 429") and b"retry-after: 5" in answer.lower() and b"queue_size" in answer
    finally:
        embedder.gate.set()
    job = first.json()["url"]
    deadline = time.monotonic() + 30
    while httpx.get(f"{base}{job}", headers=AUTH).json()["status"] != "done":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    again = httpx.post(
        f"{base}/documents?wait=true", json={"doc_id": "harbour", "text": NOTE}, headers=AUTH, timeout=30
    )
    assert again.status_code == 201  # the slot came back when the job finished


def test_failed_requests_give_their_slot_back(
    make_client: Callable[..., TestClient[Litestar]], settings: Settings
) -> None:
    client = make_client(keyed(settings, jobs={"queue_size": 1}))
    for body in (b"{not json", b'{"doc_id": "x"}', b'{"doc_id": "UPPER", "text": "t"}'):
        response = client.post("/documents", content=body, headers={**AUTH, "Content-Type": "application/json"})
        assert response.status_code in (400, 422), response.text
    assert (
        client.post("/documents?wait=true", json={"doc_id": "harbour", "text": NOTE}, headers=AUTH).status_code == 201
    )


# -- the queue itself ------------------------------------------------------------------------------


def test_the_queue_runs_in_order_and_keeps_a_bounded_history() -> None:
    queue = JobQueue(queue_size=10, history=2)
    order: list[int] = []
    jobs = [queue.submit(Job("remove", str(n), lambda progress, n=n: order.append(n))) for n in range(5)]
    assert queue.join(10)
    assert order == [0, 1, 2, 3, 4]
    with pytest.raises(UnknownJob):
        queue.get(jobs[0].id)
    assert queue.get(jobs[4].id).state == "done"


def test_admission_counts_bodies_and_bytes() -> None:
    admission = Admission(slots=2, budget_bytes=100)
    big = admission.admit(1000)  # alone, a body is always admitted
    with pytest.raises(WritesBusy):
        admission.admit(1)  # over the byte budget while the first is pending
    big.release()
    big.release()  # once only
    first, second = admission.admit(10), admission.admit(10)
    with pytest.raises(WritesBusy):
        admission.admit(10)  # over the slots
    first.release()
    second.release()
    assert admission.pending == 0 and admission.pending_bytes == 0


def test_a_document_delete_that_succeeds_has_removed_it(
    make_client: Callable[..., TestClient[Litestar]], settings: Settings
) -> None:
    """Found by schemathesis (use after free): ``DELETE /documents/{id}?wait=false`` answered 202 and
    the document was still served. A DELETE waits for its removal; there is no ``wait=false``."""
    client = make_client(keyed(settings))
    added = client.post("/documents?wait=true", json={"doc_id": "harbour", "text": NOTE}, headers=AUTH)
    assert added.status_code == 201
    removed = client.delete("/documents/harbour", params={"wait": "false"}, headers=AUTH)
    assert removed.status_code == 200 and removed.json()["action"] == "removed"
    assert client.get("/documents/harbour").status_code == 404
    operation = client.get("/schema/openapi.json").json()["paths"]["/documents/{doc_id}"]["delete"]
    assert "wait" not in {p["name"] for p in operation.get("parameters", [])}


def test_metadata_integers_beyond_64_bits_are_refused_as_the_schema_says(
    make_client: Callable[..., TestClient[Litestar]], settings: Settings
) -> None:
    """The index stores metadata as msgpack (64-bit integers): a larger one is a 400 at the door,
    stated in the schema, not a 500 when the job saves (an outside fuzz run found the 500)."""
    client = make_client(keyed(settings))
    huge = client.post("/documents?wait=true", headers=AUTH,
                       json={"doc_id": "big", "text": NOTE, "metadata": {"n": 16499289683702366347460608}})  # fmt: skip
    assert huge.status_code == 400, huge.text
    assert "big" not in served(client)
    bounds = {"n": 2**63 - 1, "tags": [-(2**63)]}
    body = {"doc_id": "big", "text": NOTE, "metadata": bounds}
    largest = client.post("/documents?wait=true", headers=AUTH, json=body)
    assert largest.status_code == 201, largest.text
    schema = client.get("/schema/openapi.json").json()["components"]["schemas"]["DocumentUpload"]
    assert '"maximum": 9223372036854775807' in json.dumps(schema["properties"]["metadata"])
