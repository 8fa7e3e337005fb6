"""Uploads, deletes and re-indexes at once: nothing acknowledged is ever lost (issue 12, items 1 and 4).

Before the engine had one owner, a re-index started during an upload swapped in a build made
from the seeds folder as it was before the upload, and the acknowledged document vanished
from /documents and search until a restart. Here every interleaving must end with the served
corpus equal to the seeds folder, and with every acknowledged write in it. Writes are queued
jobs: some are waited for (``?wait=true``), some polled (202), some cancelled right away, and
none is refused for being concurrent.
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from rag.config import Settings
from rag.documents.loading import load_documents
from rag.embedding.base import Vectors
from rag.engine.service import QAService
from tests.conftest import FakeEmbedder, tuned, wait_for_job

KEY = "concurrency-key-0123456789"
AUTH = {"X-API-Key": KEY}


class SlowRebuildEmbedder(FakeEmbedder):
    """A full build (many texts in one call) takes a while; a one-document change stays quick."""

    def __init__(self, delay: float) -> None:
        self.delay = delay

    def embed(self, texts: Sequence[str]) -> Vectors:
        if len(texts) > 40:
            time.sleep(self.delay)
        return super().embed(texts)


def keyed(settings: Settings) -> Settings:
    return tuned(settings, security={"api_key": KEY}, rate_limit={"enabled": False})


def wait_idle(client: TestClient[Litestar]) -> None:
    deadline = time.monotonic() + 60
    while client.get("/admin/reindex", headers=AUTH).json()["state"] in ("queued", "running"):
        assert time.monotonic() < deadline, "the reindex did not finish"
        time.sleep(0.01)


def served(client: TestClient[Litestar]) -> dict[str, str]:
    """doc_id -> sha256 of what the server answers from."""
    return {d["doc_id"]: d["sha256"] for d in client.get("/documents").json()}


def on_disk(settings: Settings) -> dict[str, str]:
    documents, _ = load_documents(Path(settings.paths.seeds))
    return {d.doc_id: d.sha256 for d in documents}


def text_of(doc_id: str, version: int) -> str:
    return f"# {doc_id}\n\nVersion {version} of the note on {doc_id}. The ferry leaves at {version % 12 + 1} o'clock.\n"


def test_a_reindex_started_during_an_upload_keeps_the_upload(
    make_client: Callable[..., TestClient[Litestar]], settings: Settings
) -> None:
    """The attack's recipe: an upload that takes a while, and 0.1 s later a re-index."""
    chosen = keyed(settings)
    client = make_client(chosen, service_factory=lambda s: QAService.open(s, embedder=SlowRebuildEmbedder(0.3)))
    big = "".join(f"Paragraph {i} says the talks resumed in city number {i}.\n" for i in range(120))
    results: dict[str, Any] = {}
    upload = threading.Thread(
        target=lambda: results.update(
            up=client.post("/documents", params={"wait": "true"}, json={"doc_id": "late", "text": big}, headers=AUTH)
        )
    )
    upload.start()
    time.sleep(0.1)
    results["reindex"] = client.post("/admin/reindex", headers=AUTH)
    upload.join(60)
    wait_idle(client)
    assert results["up"].status_code == 201 and results["reindex"].status_code == 202
    assert "late" in served(client)
    assert served(client) == on_disk(chosen)


@pytest.mark.parametrize("rounds", [25, pytest.param(200, marks=pytest.mark.soak)])
def test_any_interleaving_of_changes_loses_nothing_acknowledged(
    make_client: Callable[..., TestClient[Litestar]], settings: Settings, monkeypatch: pytest.MonkeyPatch, rounds: int
) -> None:
    """Random interleavings of uploads (new and replacing; waited for, polled or cancelled at
    once), deletes (waited for: a DELETE answers once its removal is done) and re-indexes: 25
    in the default run, 200 in the soak run (about 80 s)."""
    monkeypatch.setattr(os, "fsync", lambda fd: None)  # durability is not what this test is about
    chosen = keyed(settings)
    client = make_client(chosen, service_factory=lambda s: QAService.open(s, embedder=SlowRebuildEmbedder(0.02)))
    rng = random.Random(12)
    expected = served(client)  # doc_id -> sha256 of every acknowledged state
    texts: dict[str, str] = {}
    counts = {"acknowledged": 0, "polled": 0, "cancelled": 0, "reindexes": 0}
    next_id = 0
    for round_ in range(rounds):
        ops: list[tuple[str, str, int, str]] = []
        for _ in range(rng.randint(2, 4)):
            kind = rng.choice(["add", "add", "replace", "delete", "reindex"])
            mine = [d for d in texts if d not in {o[1] for o in ops}]
            if kind in {"replace", "delete"} and not mine:
                kind = "add"
            if kind == "add":
                doc_id, next_id = f"note-{next_id}", next_id + 1
            elif kind == "reindex":
                doc_id = ""
            else:
                doc_id = rng.choice(mine)
            how = rng.choice(["wait", "poll", "cancel"] if kind in {"add", "replace"} else ["wait"])
            ops.append((kind, doc_id, round_, how))
        outcomes: list[tuple[str, str, str, Any, Any]] = []

        def run(kind: str, doc_id: str, version: int, how: str, delay: float, outcomes: list[Any] = outcomes) -> None:
            time.sleep(delay)
            wait = {"wait": "true" if how == "wait" else "false"}
            cancel = None
            if kind == "reindex":
                response = client.post("/admin/reindex", headers=AUTH)
            elif kind == "delete":
                response = client.delete(f"/documents/{doc_id}", params=wait, headers=AUTH)
            else:
                response = client.post("/documents", params=wait, headers=AUTH,
                                       json={"doc_id": doc_id, "text": text_of(doc_id, version)})  # fmt: skip
                if how == "cancel" and response.status_code == 202:
                    # 204: cancelled and forgotten; 409: too late (committing, or a batch still running)
                    cancel = client.delete(response.headers["location"], headers=AUTH)
            outcomes.append((kind, doc_id, how, response, cancel))  # list.append is atomic

        threads = [threading.Thread(target=run, args=(*op, rng.uniform(0, 0.015))) for op in ops]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        wait_idle(client)
        for kind, doc_id, _how, response, cancel in outcomes:
            if kind == "reindex":
                assert response.status_code in {202, 409}, response.text  # 409: one is already queued or running
                counts["reindexes"] += response.status_code == 202
                continue
            assert response.status_code in {200, 201, 202}, response.text  # never refused for being concurrent
            change = response.json()
            if cancel is not None and cancel.status_code == 204:  # cancelled before it saved: nothing changed
                assert client.get(response.headers["location"], headers=AUTH).status_code == 404  # and forgotten
                counts["cancelled"] += 1
                continue
            if cancel is not None:
                assert cancel.status_code == 409, cancel.text
            if response.status_code == 202:
                job = wait_for_job(client, response.headers["location"], AUTH, timeout=60)
                if job["status"] == "cancelled":  # cancelled before it saved: nothing changed
                    counts["cancelled"] += 1
                    continue
                assert job["status"] == "done", job
                counts["polled"] += 1
                change = job["change"]
            counts["acknowledged"] += 1
            if kind == "delete":
                expected.pop(doc_id)
                texts.pop(doc_id)
            else:
                expected[doc_id] = change["document"]["sha256"]
                texts[doc_id] = text_of(doc_id, round_)
        now = served(client)
        assert now == expected, f"round {round_}: served {sorted(now)} != acknowledged {sorted(expected)}"
        assert now == on_disk(chosen), f"round {round_}: the served corpus differs from the seeds folder"
    print(f"\n{rounds} interleavings: {counts}")
    assert counts["acknowledged"] >= rounds and counts["reindexes"] >= rounds // 10
    assert counts["polled"] >= rounds // 10 and counts["cancelled"] >= 1
