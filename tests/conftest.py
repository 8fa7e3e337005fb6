"""Shared fixtures: a fake deterministic embedder and an isolated environment per test.

The fake embedder (tests/fake_embedder.py) hashes stemmed words into a 64-d bag of words, so similar texts get similar
vectors (good enough to test the plumbing) without loading a model. Tests marked ``model``
use the real all-MiniLM-L6-v2, loaded once per session.
"""

from __future__ import annotations

import functools
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import settings as hypothesis_settings
from litestar import Litestar
from litestar.testing import TestClient

from rag.config import Settings, load_settings
from rag.engine.service import QAService
from rag.http.app import create_app
from tests.fake_embedder import FakeEmbedder

pytest_plugins = ["tests.postgres_server"]  # pg_server, pg_dsn: a real PostgreSQL for `postgres` tests

# Property tests check what code does, never how fast: a shared machine's load made one example of
# a head-decoding test overrun Hypothesis's default 200 ms deadline and fail the run.
hypothesis_settings.register_profile("no-deadline", deadline=None)
hypothesis_settings.load_profile("no-deadline")

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "seeds" / "us-ukraine-russia-negotiations.txt"


@pytest.fixture(autouse=True)
def isolated_environment(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test reads the developer's RAG_* variables or touches the real index/. Outside the
    ``model`` suite the span head is off: like the embedder, a model is replaced by a fake there
    (tests/test_span_head.py scripts the head's logits)."""
    for name in list(os.environ):
        if name.startswith("RAG_"):
            monkeypatch.delenv(name)
    if not request.node.get_closest_marker("model"):
        monkeypatch.setenv("RAG_ANSWERING__SPAN_HEAD_SENTENCES", "0")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("RAG_CONFIG", str(ROOT / "config" / "rag.toml"))
    monkeypatch.setenv("RAG_PATHS__INDEX", str(tmp_path / "index"))
    monkeypatch.setenv("RAG_PATHS__SEEDS", str(tmp_path / "seeds"))
    monkeypatch.setenv("RAG_PATHS__GOLD", str(tmp_path / "gold.jsonl"))
    (tmp_path / "seeds").mkdir()
    shutil.copy(SEED, tmp_path / "seeds" / SEED.name)


class RememberingPipeline:
    """spaCy's pipeline, parsing each distinct text once per session.

    Most tests build an index over the same seed article, and spaCy's parse is three quarters
    of such a build (~0.7 s of ~0.9 s). A parse depends only on the text, and the answer
    candidates are read from the parsed ``Doc`` without changing it, so a remembered parse is
    exactly what parsing again gives; the build code runs unchanged.
    """

    def __init__(self, nlp: Any) -> None:
        self.nlp = nlp
        self.parsed: dict[str, Any] = {}

    def pipe(self, texts: Sequence[str], batch_size: int = 64) -> Iterator[Any]:
        texts = list(texts)
        new = [t for t in dict.fromkeys(texts) if t not in self.parsed]
        self.parsed.update(zip(new, self.nlp.pipe(new, batch_size=batch_size), strict=True))
        return (self.parsed[t] for t in texts)


@pytest.fixture(scope="session", autouse=True)
def parses_remembered() -> Iterator[None]:
    from rag.text import linguistics

    real = linguistics.pipeline
    remembering = functools.cache(lambda: RememberingPipeline(real()))
    linguistics.pipeline = remembering  # type: ignore[assignment]
    yield
    linguistics.pipeline = real


@pytest.fixture(autouse=True)
def fsync_skipped(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """``os.fsync`` does nothing in the fast suite. What it buys (data on the disk after a power
    loss) no test in this process can observe, and it was a third of the time of the tests that
    build indexes. Writes, renames and their order are unchanged; the crash tests kill real
    subprocesses, which fsync, and the marked suites (real model, soak, ...) keep it too."""
    if not any(request.node.get_closest_marker(name) for name in ("model", "soak", "postgres", "browser")):
        monkeypatch.setattr(os, "fsync", lambda fd: None)


@pytest.fixture
def settings() -> Settings:
    return load_settings()


@pytest.fixture
def fake_embedder() -> FakeEmbedder:
    return FakeEmbedder()


@pytest.fixture
def service(settings: Settings, fake_embedder: FakeEmbedder) -> QAService:
    return QAService.open(settings, embedder=fake_embedder)


@pytest.fixture(scope="session")
def real_embedder() -> Iterator[object]:
    from rag.embedding.sentence_transformers import SentenceTransformerEmbedder

    yield SentenceTransformerEmbedder()


@pytest.fixture
def real_service(settings: Settings, real_embedder: object) -> QAService:
    return QAService.open(settings, embedder=real_embedder)  # type: ignore[arg-type]


# -- added for the API, robustness and soak tests -----------------------------------------------


def tuned(settings: Settings, **sections: dict[str, Any]) -> Settings:
    """``settings`` with some fields of some sections replaced, e.g. ``tuned(s, server={"port": 1})``."""
    replaced = {name: msgspec.structs.replace(getattr(settings, name), **values) for name, values in sections.items()}
    return msgspec.structs.replace(settings, **replaced)


def fake_service_factory(settings: Settings) -> QAService:
    return QAService.open(settings, embedder=FakeEmbedder())


AppMaker = Callable[..., Litestar]


@pytest.fixture
def make_app(settings: Settings) -> AppMaker:
    """An app over the fake embedder; the rate limit is off unless a test turns it on."""

    def make(app_settings: Settings | None = None, **kwargs: Any) -> Litestar:
        chosen = app_settings or tuned(settings, rate_limit={"enabled": False})
        kwargs.setdefault("service_factory", fake_service_factory)
        return create_app(chosen, **kwargs)

    return make


@pytest.fixture
def make_client(make_app: AppMaker) -> Iterator[Callable[..., TestClient[Litestar]]]:
    """Started TestClients (lifespan run), closed at the end of the test."""
    with ExitStack() as stack:

        def make(app_settings: Settings | None = None, **kwargs: Any) -> TestClient[Litestar]:
            return stack.enter_context(TestClient(app=make_app(app_settings, **kwargs)))

        yield make


@pytest.fixture
def client(make_client: Callable[..., TestClient[Litestar]]) -> TestClient[Litestar]:
    return make_client()


@pytest.fixture(scope="session")
def shared_index(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings for one index over the seed article, built once per session, for tests that only
    read it (a test that changes documents takes the per-test ``settings`` instead)."""
    root = tmp_path_factory.mktemp("shared-index")
    (root / "seeds").mkdir()
    shutil.copy(SEED, root / "seeds" / SEED.name)
    environ = {"RAG_PATHS__SEEDS": str(root / "seeds"), "RAG_PATHS__INDEX": str(root / "index"),
               "RAG_RATE_LIMIT__ENABLED": "false", "RAG_ANSWERING__SPAN_HEAD_SENTENCES": "0"}  # fmt: skip
    shared = load_settings(ROOT / "config" / "rag.toml", environ=environ)
    QAService.open(shared, embedder=FakeEmbedder())
    return shared


@pytest.fixture(scope="module")
def read_only_client(shared_index: Settings) -> Iterator[TestClient[Litestar]]:
    """One started app per test module over the shared index; its tests must not change documents."""
    with TestClient(app=create_app(shared_index, service_factory=fake_service_factory)) as started:
        yield started


@pytest.fixture
def live_server(make_app: AppMaker) -> Iterator[Callable[..., str]]:
    """Real uvicorn servers on free loopback ports, in threads; returns their base URLs."""
    import uvicorn

    started: list[tuple[uvicorn.Server, threading.Thread]] = []

    def start(app_settings: Settings | None = None, **kwargs: Any) -> str:
        config = uvicorn.Config(make_app(app_settings, **kwargs), host="127.0.0.1", port=0, log_level="warning")
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
        thread.start()
        deadline = time.monotonic() + 60
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the test server did not start")
            time.sleep(0.01)
        started.append((server, thread))
        port = server.servers[0].sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    yield start
    for server, thread in started:
        server.should_exit = True
        thread.join(timeout=30)


def wait_for_job(client: TestClient[Litestar], url: str, headers: dict[str, str],
                 timeout: float = 30.0) -> dict[str, Any]:  # fmt: skip
    """Poll a write job (``GET /jobs/{id}``) until it is no longer queued or running."""
    deadline = time.monotonic() + timeout
    while (job := client.get(url, headers=headers).json())["status"] in ("queued", "running"):
        assert time.monotonic() < deadline, f"job {url} did not finish: {job}"
        time.sleep(0.01)
    return job
