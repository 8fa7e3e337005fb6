"""The smaller findings of the outside attack (issue 12): each case failed before its fix."""

from __future__ import annotations

import os
import socket
import stat
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import TestClient
from prometheus_client import REGISTRY

from rag.config import Settings
from rag.engine.service import QAService
from rag.http.schemas import MAX_UPLOAD_BODY_BYTES
from rag.http.web import UI_DIR
from tests.conftest import FakeEmbedder, tuned

KEY = "robustness-key-0123456789"
AUTH = {"X-API-Key": KEY}


@pytest.fixture
def keyed_client(make_client: Callable[..., TestClient[Litestar]], settings: Settings) -> TestClient[Litestar]:
    return make_client(tuned(settings, security={"api_key": KEY}, rate_limit={"enabled": False}))


@pytest.fixture
def umask_022() -> Iterator[None]:
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def test_a_client_that_disconnects_mid_body_is_no_server_error(
    live_server: Callable[..., str], settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    url = live_server(tuned(settings, rate_limit={"enabled": False}))
    port = int(url.rsplit(":", 1)[1])
    before = REGISTRY.get_sample_value("rag_client_disconnects_total") or 0.0
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(b"POST /ask HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n"
                     b'{"question": "What')  # fmt: skip
        time.sleep(0.2)
    deadline = time.monotonic() + 10
    while (REGISTRY.get_sample_value("rag_client_disconnects_total") or 0.0) == before:
        assert time.monotonic() < deadline, "the disconnect was not counted"
        time.sleep(0.05)
    assert not [r for r in caplog.records if r.levelname == "ERROR"], [r.getMessage() for r in caplog.records]


@pytest.mark.parametrize("path", ["/static/app.js%00.png", "/static/%00"])
def test_a_nul_in_a_static_path_is_404(client: TestClient[Litestar], path: str) -> None:
    assert client.get(path).status_code == 404


@pytest.mark.parametrize("path", ["/static/.", "/static/..%2f", "/static/nope.js", "/static/"])
def test_static_errors_never_show_server_paths(client: TestClient[Litestar], path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404 and str(UI_DIR) not in response.text and "/work" not in response.text


def test_an_oversized_upload_names_the_upload_limit(keyed_client: TestClient[Litestar]) -> None:
    body = b'{"doc_id": "big", "text": "' + b"a" * (MAX_UPLOAD_BODY_BYTES + 10) + b'"}'
    response = keyed_client.post("/documents", content=body, headers={**AUTH, "Content-Type": "application/json"})
    assert response.status_code == 413
    detail = response.json()["detail"]
    assert f"over the {MAX_UPLOAD_BODY_BYTES} that [documents] max_document_bytes (20971520) allows" in detail


def test_leftovers_of_killed_writers_are_removed_at_start(settings: Settings, service: QAService) -> None:
    seeds, index = Path(settings.paths.seeds), Path(settings.paths.index)
    (seeds / ".notes.txt.0123abcd.tmp").write_text("half a note", encoding="utf-8")
    (index / ".build-0123abcd").mkdir()
    (index / ".build-0123abcd" / "chunks.msgpack").write_bytes(b"half")
    QAService.open(settings, embedder=FakeEmbedder())
    assert not list(seeds.glob(".*.tmp")) and not list(index.glob(".build-*"))
    assert [p.name for p in seeds.iterdir()] == ["us-ukraine-russia-negotiations.txt"]


@pytest.mark.usefixtures("umask_022")
def test_files_written_through_the_api_follow_the_umask(keyed_client: TestClient[Litestar], settings: Settings) -> None:
    body = {"doc_id": "notes", "text": "A note."}
    assert keyed_client.post("/documents", params={"wait": "true"}, json=body, headers=AUTH).status_code == 201
    seed = Path(settings.paths.seeds) / "notes.txt"
    assert stat.S_IMODE(seed.stat().st_mode) == 0o644
    builds = list(Path(settings.paths.index).glob("v-*"))
    assert builds and all(stat.S_IMODE(b.stat().st_mode) == 0o755 for b in builds)


@pytest.mark.parametrize("filename", ["..txt", "é.txt", "---.md", "🚀.txt"])
def test_upload_names_that_fold_to_nothing_are_refused(keyed_client: TestClient[Litestar], filename: str) -> None:
    response = keyed_client.post("/documents", json={"filename": filename, "text": "Some text."}, headers=AUTH)
    assert response.status_code == 422 and "give a doc_id" in response.json()["detail"]


@pytest.mark.parametrize(("method", "path"), [("GET", "/nope"), ("GET", "/documents/nope"), ("POST", "/ask")])
def test_problem_details_are_not_sniffed(client: TestClient[Litestar], method: str, path: str) -> None:
    response = client.request(method, path)
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["x-content-type-options"] == "nosniff"


# -- operator mistakes: one clear line, never a traceback (item 14) ---------------------------


@pytest.fixture
def fake_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI runs with the fake embedder, registered as a backend like any other."""
    from rag.embedding import registry

    backend = registry.Backend(lambda model, batch, cache, progress: FakeEmbedder(), frozenset({"fake"}))
    monkeypatch.setitem(registry.BACKENDS, "fake", backend)
    monkeypatch.setenv("RAG_EMBEDDING__BACKEND", "fake")
    monkeypatch.setenv("RAG_EMBEDDING__MODEL", "fake")


@pytest.mark.usefixtures("fake_backend")
@pytest.mark.parametrize(
    ("mistake", "says"),
    [
        ("index is a file", "a file stands where the index or seeds need a folder: {index}"),
        ("CURRENT is a folder", "a folder stands where the index or seeds need a file: {index}/CURRENT"),
        ("seeds missing", "the seeds folder {seeds} does not exist or is not a folder"),
    ],
)
def test_operator_mistakes_are_one_clear_line(settings: Settings, mistake: str, says: str) -> None:
    from click.testing import CliRunner

    from rag.cli import main as cli

    index, seeds = Path(settings.paths.index), Path(settings.paths.seeds)
    if mistake == "index is a file":
        index.write_text("not a folder", encoding="utf-8")
    elif mistake == "CURRENT is a folder":
        (index / "CURRENT").mkdir(parents=True)
    else:
        for seed in seeds.iterdir():
            seed.unlink()
        seeds.rmdir()
    result = CliRunner().invoke(cli.main, ["index"])
    assert result.exit_code == 1, result.output
    assert f"Error: {says.format(index=index, seeds=seeds)}" in result.output
    assert isinstance(result.exception, SystemExit) and "Traceback" not in result.output  # not an uncaught error


def test_a_folder_where_the_writer_lock_belongs_is_a_503_not_a_500(
    keyed_client: TestClient[Litestar], settings: Settings
) -> None:
    from rag.index.store import WRITER_LOCK

    lock = Path(settings.paths.index) / WRITER_LOCK
    lock.unlink(missing_ok=True)
    lock.mkdir()
    response = keyed_client.post("/documents?wait=true", json={"doc_id": "notes", "text": "A note."}, headers=AUTH)
    assert response.status_code == 503 and "a folder stands where the index or seeds need a file" in response.text
    assert str(lock) not in response.text


def test_search_names_its_own_parameter(client: TestClient[Litestar]) -> None:
    response = client.get("/search", params={"q": "Kyiv", "k": 1000})
    assert response.status_code == 400 and response.json()["detail"].endswith(": k Expected `int` <= 50")
    asked = client.post("/ask", json={"question": "Kyiv?", "top_k": 1000})
    assert asked.status_code == 400 and asked.json()["detail"].endswith(": top_k Expected `int` <= 50")


@pytest.mark.parametrize(
    ("limits", "detail"),
    [
        ({"max_documents": 1}, "the corpus holds its limit of 1 documents ([documents] max_documents)"),
        ({"max_corpus_chars": 1000}, "over its limit of 1000 ([documents] max_corpus_chars)"),
    ],
)
def test_uploads_beyond_the_corpus_limits_are_507(
    make_client: Callable[..., TestClient[Litestar]], settings: Settings, limits: dict[str, int], detail: str
) -> None:
    client = make_client(tuned(settings, security={"api_key": KEY}, rate_limit={"enabled": False}, documents=limits))
    response = client.post("/documents?wait=true", json={"doc_id": "more", "text": "One more note."}, headers=AUTH)
    assert response.status_code == 507 and detail in response.json()["detail"]
    assert [d["doc_id"] for d in client.get("/documents").json()] == ["us-ukraine-russia-negotiations"]
    assert not (Path(settings.paths.seeds) / "more.txt").exists()
    if "max_documents" in limits:  # a replacement does not add a document
        seed = "us-ukraine-russia-negotiations"
        replaced = client.post("/documents?wait=true", json={"doc_id": seed, "text": "Shorter now."}, headers=AUTH)
        assert replaced.status_code == 200 and replaced.json()["action"] == "replaced"
