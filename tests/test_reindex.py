"""POST /admin/reindex: a rebuild in a worker thread, swapped in atomically while requests are served."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar import Litestar
from litestar.testing import TestClient

from rag.config import Settings
from rag.embedding.base import Vectors
from rag.engine.service import QAService
from tests.conftest import FakeEmbedder, tuned

KEY = "reindex-key-0123456789"
ADMIN = {"X-API-Key": KEY}
QUESTIONS = [
    "What does Moscow insist Ukraine must do?",
    "Who is mediating the talks?",
    "What security guarantees does Kyiv want?",
    "When did the negotiations start?",
]


class SlowBuildEmbedder(FakeEmbedder):
    """Fast for a question (one text), slow for an index build (many texts at once)."""

    def __init__(self, build_delay: float = 0.5) -> None:
        self.build_delay = build_delay

    def embed(self, texts: Sequence[str]) -> Vectors:
        if len(texts) > 1:
            time.sleep(self.build_delay)
        return super().embed(texts)


def slow_factory(delay: float) -> Callable[[Settings], QAService]:
    return lambda s: QAService.open(s, embedder=SlowBuildEmbedder(delay))


def admin_settings(settings: Settings) -> Settings:
    return tuned(settings, security={"api_key": KEY}, rate_limit={"enabled": False})


def wait_for(get_status: Callable[[], dict[str, Any]], timeout: float = 60.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = get_status()
        if status["state"] not in ("queued", "running"):
            return status
        time.sleep(0.05)
    raise AssertionError("the reindex did not finish")


def test_reindex_picks_up_seed_changes_and_refuses_a_second_one_meanwhile(
    make_client: Callable[..., TestClient[Litestar]], settings: Settings
) -> None:
    client = make_client(admin_settings(settings), service_factory=slow_factory(0.5))
    before = client.get("/health").json()
    (Path(settings.paths.seeds) / "late-news.txt").write_text("Late news. Talks moved to Geneva.\n", encoding="utf-8")

    started = client.post("/admin/reindex", headers=ADMIN)
    assert started.status_code == 202 and started.json()["state"] in ("queued", "running")
    assert started.headers["location"] == f"/jobs/{started.json()['job']}"
    again = client.post("/admin/reindex", headers=ADMIN)
    assert again.status_code == 409 and again.json()["detail"] in (
        "a reindex is already running", "a reindex is already queued"
    )
    assert client.get("/health").json()["index_version"] == before["index_version"]  # still the old one

    status = wait_for(lambda: client.get("/admin/reindex", headers=ADMIN).json())
    assert status["state"] == "succeeded" and status["documents"] == 2 and status["error"] is None
    assert status["finished_at"] >= status["started_at"]
    after = client.get("/health").json()
    assert after["index_version"] == status["index_version"] != before["index_version"]
    assert {d["doc_id"] for d in client.get("/documents").json()} == {"us-ukraine-russia-negotiations", "late-news"}
    assert client.post("/admin/reindex", headers=ADMIN).status_code == 202  # free again


def test_a_failed_reindex_keeps_the_old_index_serving(
    make_client: Callable[..., TestClient[Litestar]], settings: Settings
) -> None:
    def broken_rebuild(current: QAService, progress: object) -> QAService:
        raise OSError(28, "No space left on device")

    client = make_client(admin_settings(settings), rebuild=broken_rebuild)
    before = client.get("/health").json()
    assert client.post("/admin/reindex", headers=ADMIN).status_code == 202
    status = wait_for(lambda: client.get("/admin/reindex", headers=ADMIN).json())
    assert status["state"] == "failed" and "No space left on device" in status["error"]
    assert client.get("/health").json() == before
    assert client.post("/ask", json={"question": QUESTIONS[0]}).status_code == 200


def test_requests_during_reindexes_never_fail(live_server: Callable[..., str], settings: Settings) -> None:
    """8 threads hammer a live server while three reindexes (each over changed seeds) run and swap."""
    url = live_server(admin_settings(settings), service_factory=slow_factory(0.4))
    seeds = Path(settings.paths.seeds)
    stop = threading.Event()
    failures: list[str] = []
    statuses: Counter[int] = Counter()
    during_rebuild = Counter[str]()
    rebuilding = threading.Event()
    lock = threading.Lock()

    def hammer(worker: int) -> None:
        with httpx.Client(base_url=url, timeout=30) as http:
            n = 0
            while not stop.is_set():
                n += 1
                try:
                    if n % 3 == 0:
                        response = http.get("/search", params={"q": QUESTIONS[n % 4], "k": 3})
                    elif n % 7 == 0:
                        response = http.get("/documents")
                    else:
                        response = http.post("/ask", json={"question": QUESTIONS[(n + worker) % 4]})
                    ok = response.status_code == 200 and response.json() is not None
                except Exception as error:  # a dropped connection counts as a failure too
                    ok, response = False, None
                    with lock:
                        failures.append(f"{type(error).__name__}: {error}")
                with lock:
                    if response is not None:
                        statuses[response.status_code] += 1
                        if not ok:
                            failures.append(f"{response.status_code} {response.text[:200]}")
                    if rebuilding.is_set():
                        during_rebuild["requests"] += 1

    threads = [threading.Thread(target=hammer, args=(i,), daemon=True) for i in range(8)]
    for thread in threads:
        thread.start()
    versions = []
    with httpx.Client(base_url=url, headers=ADMIN, timeout=30) as admin:
        versions.append(admin.get("/health").json()["index_version"])
        for round_ in range(3):
            (seeds / f"round-{round_}.txt").write_text(f"Round {round_} of talks. Nothing new.\n", encoding="utf-8")
            assert admin.post("/admin/reindex").status_code == 202
            rebuilding.set()
            status = wait_for(lambda admin=admin: admin.get("/admin/reindex").json())  # type: ignore[misc]
            rebuilding.clear()
            assert status["state"] == "succeeded", status
            versions.append(admin.get("/health").json()["index_version"])
            time.sleep(0.2)
    stop.set()
    for thread in threads:
        thread.join(timeout=30)

    print(f"\nreindex under load: {sum(statuses.values())} requests, {during_rebuild['requests']} during rebuilds, "
          f"{len(failures)} failures, versions {versions}")  # fmt: skip
    assert failures == [], failures[:5]
    assert len(set(versions)) == 4  # every reindex swapped in a new index
    assert during_rebuild["requests"] >= 20  # and requests were being served while each rebuilt
    assert sum(statuses.values()) >= 100 and set(statuses) == {200}


@pytest.mark.parametrize("method", ["POST", "GET"])
def test_admin_endpoints_need_the_key(
    make_client: Callable[..., TestClient[Litestar]], settings: Settings, method: str
) -> None:
    client = make_client(admin_settings(settings))
    assert client.request(method, "/admin/reindex").status_code == 401
