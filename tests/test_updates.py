"""Documents at run time: incremental builds, POST/DELETE /documents, restarts, other processes."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import pytest
from litestar import Litestar
from litestar.testing import TestClient

from rag.config import Settings
from rag.durable import write_atomically
from rag.embedding.base import Vectors
from rag.engine import updates
from rag.engine.service import QAService
from rag.http import plugin as extensions
from rag.index.store import IndexStore
from tests.conftest import FakeEmbedder, tuned, wait_for_job

KEY = "test-key-0123456789abcdef"
AUTH = {"X-API-Key": KEY}
ROCKETS = (
    "# Rocket notes\n\n"
    "Launch day 🚀🚀🚀 was loud.\n"
    "The Falcon rocket's first stage landed on the drone ship in April 2016.\n"
)
ROCKETS_V2 = "# Rocket notes\n\nThe Falcon rocket's first stage landed on a barge near Florida in 2017.\n"
QUESTION = "Where did the Falcon first stage land?"


class CountingEmbedder(FakeEmbedder):
    def __init__(self) -> None:
        self.texts: list[str] = []

    def embed(self, texts: Sequence[str]) -> Vectors:
        self.texts += list(texts)
        return super().embed(texts)


@pytest.fixture
def keyed(settings: Settings) -> Settings:
    return tuned(settings, rate_limit={"enabled": False}, security={"api_key": KEY})


@pytest.fixture
def keyed_client(make_client: Callable[..., TestClient[Litestar]], keyed: Settings) -> TestClient[Litestar]:
    return make_client(keyed)


def _cited(answer: dict[str, Any]) -> set[str]:
    return {c["doc_id"] for c in answer["citations"]}


# -- the incremental build ----------------------------------------------------------------


def test_an_incremental_build_is_the_build_a_full_rebuild_makes(settings: Settings, service: QAService) -> None:
    result = updates.upload(service, ROCKETS, doc_id="rockets")
    assert result.action == "added" and result.chunks_reused == service.data.manifest.chunks
    added = result.service.data
    full = QAService.open(settings, embedder=FakeEmbedder(), force_rebuild=True).data
    assert added.manifest.version == full.manifest.version  # same files, byte for byte
    assert added.chunks == full.chunks and added.sentences == full.sentences and added.clauses == full.clauses
    np.testing.assert_array_equal(added.sentence_vectors, full.sentence_vectors)
    np.testing.assert_array_equal(added.clause_vectors, full.clause_vectors)


def test_only_the_changed_document_is_embedded(settings: Settings, service: QAService) -> None:
    embedder = CountingEmbedder()
    live = QAService(settings, embedder, service.data)
    result = updates.upload(live, ROCKETS, doc_id="rockets")
    doc = result.service.data.documents["rockets"]
    own = {c.text for c in result.service.data.chunks if c.doc_id == "rockets"}
    own |= {s.text for s in result.service.data.sentences if s.doc_id == "rockets"}
    own |= {c.text for c in result.service.data.clauses if c.doc_id == "rockets"}
    assert set(embedder.texts) == own and len(embedder.texts) == len(own)
    assert result.chunks_embedded == sum(c.doc_id == "rockets" for c in result.service.data.chunks)
    assert doc.path == str(Path(settings.paths.seeds) / "rockets.txt")
    embedder.texts.clear()
    removed = updates.remove(result.service, "rockets")
    assert embedder.texts == [] and removed.chunks_embedded == 0
    assert removed.service.data.manifest.version == service.data.manifest.version


def test_a_restart_over_changed_seeds_embeds_only_what_changed(settings: Settings, service: QAService) -> None:
    seeds = Path(settings.paths.seeds)
    (seeds / "rockets.txt").write_text(ROCKETS, encoding="utf-8")  # added while the service was down
    embedder = CountingEmbedder()
    reopened = QAService.open(settings, embedder=embedder)
    assert reopened.rebuilt is not None and "added rockets" in reopened.rebuilt
    data = reopened.data
    own = {c.text for c in data.chunks if c.doc_id == "rockets"} | {s.text for s in data.sentences if
                                                                      s.doc_id == "rockets"}  # fmt: skip
    own |= {c.text for c in data.clauses if c.doc_id == "rockets"}
    assert set(embedder.texts) == own  # the article's rows and vectors come from the previous build
    full = QAService.open(settings, embedder=CountingEmbedder(), force_rebuild=True).data
    assert data.manifest.version == full.manifest.version  # the same build, file for file
    np.testing.assert_array_equal(data.sentence_vectors, full.sentence_vectors)
    (seeds / "rockets.txt").write_text(ROCKETS_V2, encoding="utf-8")  # changed while down
    embedder.texts.clear()
    changed = QAService.open(settings, embedder=embedder)
    assert "changed rockets" in (changed.rebuilt or "") and ROCKETS_V2.split("\n")[2] in embedder.texts
    assert not set(embedder.texts) & {s.text for s in data.sentences if s.doc_id != "rockets"}


def test_a_restart_over_changed_seeds_and_a_damaged_build_builds_everything(settings: Settings,
                                                                            service: QAService) -> None:  # fmt: skip
    store = IndexStore(Path(settings.paths.index))
    current = store.current_dir()
    assert current is not None
    vectors = current / "sentences.npy"
    vectors.write_bytes(vectors.read_bytes()[:-64])  # a damaged build is never the start of another
    (Path(settings.paths.seeds) / "rockets.txt").write_text(ROCKETS, encoding="utf-8")
    embedder = CountingEmbedder()
    reopened = QAService.open(settings, embedder=embedder)
    assert {s.text for s in service.data.sentences} <= set(embedder.texts)  # the article embedded again
    full = QAService.open(settings, embedder=FakeEmbedder(), force_rebuild=True).data
    assert reopened.data.manifest.version == full.manifest.version


def test_a_restart_with_other_settings_builds_every_document_again(settings: Settings, service: QAService) -> None:
    embedder = CountingEmbedder()
    reopened = QAService.open(tuned(settings, chunking={"max_tokens": settings.chunking.max_tokens + 16}),
                              embedder=embedder)  # fmt: skip
    assert "chunking settings changed" in (reopened.rebuilt or "")
    assert {s.text for s in service.data.sentences} <= set(embedder.texts)  # nothing reused


def test_an_update_builds_on_a_newer_build_saved_by_another_process(settings: Settings, service: QAService) -> None:
    other = QAService(settings, FakeEmbedder(), service.data)  # another worker, loaded at the same time
    first = updates.upload(service, ROCKETS, doc_id="rockets")
    second = updates.upload(other, "# Boats\n\nThe ferry leaves at noon.\n", doc_id="boats")
    assert set(second.service.data.documents) == {*service.data.documents, "rockets", "boats"}
    assert first.service.data.manifest.version != second.service.data.manifest.version
    reopened = QAService.open(settings, embedder=FakeEmbedder())
    assert reopened.rebuilt is None and set(reopened.data.documents) == set(second.service.data.documents)


def test_a_failed_save_puts_the_seed_files_back(
    settings: Settings, service: QAService, monkeypatch: pytest.MonkeyPatch
) -> None:
    seeds = Path(settings.paths.seeds)
    (seeds / "rockets.md").write_text(ROCKETS, encoding="utf-8")
    live = QAService.open(settings, embedder=FakeEmbedder())
    before = {p.name: p.read_bytes() for p in seeds.iterdir()}

    def broken_save(*args: Any, **kwargs: Any) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(IndexStore, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        updates.upload(live, ROCKETS_V2, filename="rockets.txt")  # would replace rockets.md by rockets.txt
    assert {p.name: p.read_bytes() for p in seeds.iterdir()} == before
    with pytest.raises(OSError, match="disk full"):
        updates.remove(live, "rockets")
    assert {p.name: p.read_bytes() for p in seeds.iterdir()} == before


def test_removing_every_document_leaves_a_working_empty_index(settings: Settings, service: QAService) -> None:
    (only,) = service.data.documents
    empty = updates.remove(service, only).service
    assert empty.data.documents == {} and empty.data.manifest.chunks == 0
    answer = empty.ask(QUESTION)
    assert answer.abstained and answer.citations == [] and answer.passages == []
    back = updates.upload(empty, ROCKETS, doc_id="rockets").service
    assert not back.ask(QUESTION).abstained


@pytest.mark.parametrize(
    ("doc_id", "filename", "text", "message"),
    [
        (None, None, "text", "give a doc_id or a filename"),
        ("Bad Id", None, "text", "doc_id must be"),
        ("-x", None, "text", "doc_id must be"),
        (None, "notes.pdf", "text", "must end in .txt or .md"),
        (None, "../notes.txt", "text", "bare file name"),
        ("notes", None, "   \n", "empty"),
        ("notes", None, "a\x00b", "NUL"),
        ("notes", None, "lone \ud800 surrogate", "lone surrogate"),
    ],
)
def test_uploads_are_validated_like_seed_files(
    service: QAService, doc_id: str | None, filename: str | None, text: str, message: str
) -> None:
    with pytest.raises(updates.BadRequest, match=message):
        updates.upload(service, text, doc_id=doc_id, filename=filename)


# -- over HTTP --------------------------------------------------------------------------------


def test_adding_replacing_and_deleting_change_answers_without_a_restart(
    keyed_client: TestClient[Litestar], settings: Settings
) -> None:
    client = keyed_client
    assert "rockets" not in _cited(client.post("/ask", json={"question": QUESTION}).json())

    added = client.post("/documents?wait=true", json={"doc_id": "rockets", "text": ROCKETS}, headers=AUTH)
    assert added.status_code == 201, added.text
    change = added.json()
    assert change["action"] == "added" and change["document"]["doc_id"] == "rockets"
    assert added.headers["location"] == "/documents/rockets"
    assert change["chunks_embedded"] >= 1 and change["chunks_reused"] >= 1
    assert change["index_version"] == client.get("/health").json()["index_version"]
    first = client.post("/ask", json={"question": QUESTION}).json()
    assert "rockets" in _cited(first) and "drone ship" in first["answer"]
    citation = next(c for c in first["citations"] if c["doc_id"] == "rockets")
    assert client.get("/documents/rockets").json()["text"] == ROCKETS
    span = f"/documents/rockets/spans?start={citation['start']}&end={citation['end']}"
    assert client.get(f"{span}&sha256={citation['doc_sha256']}").json()["text"] == citation["quote"]

    replaced = client.post("/documents?wait=true", json={"filename": "rockets.txt", "text": ROCKETS_V2}, headers=AUTH)
    assert replaced.status_code == 200 and replaced.json()["action"] == "replaced"
    assert replaced.json()["previous_sha256"] == citation["doc_sha256"]
    second = client.post("/ask", json={"question": QUESTION}).json()
    quoted = " ".join(c["quote"] for c in second["citations"])  # the answer comes from the new text
    assert "barge" in quoted and "drone ship" not in second["answer"] + quoted
    stale = client.get(f"{span}&sha256={citation['doc_sha256']}")  # the old citation is detectably stale
    assert stale.status_code == 409 and stale.headers["content-type"].startswith("application/problem+json")
    assert "has changed since the citation was made" in stale.json()["detail"]

    same = client.post("/documents?wait=true", json={"doc_id": "rockets", "text": ROCKETS_V2}, headers=AUTH)
    assert same.status_code == 200 and same.json()["action"] == "unchanged"
    assert same.json()["index_version"] == replaced.json()["index_version"]

    deleted = client.delete("/documents/rockets", headers=AUTH)
    assert deleted.status_code == 200 and deleted.json()["action"] == "removed"
    assert deleted.json()["document"] is None
    assert "rockets" not in _cited(client.post("/ask", json={"question": QUESTION}).json())
    assert client.get("/documents/rockets").status_code == 404
    assert client.delete("/documents/rockets", headers=AUTH).status_code == 404
    assert not list(Path(settings.paths.seeds).glob("rockets.*"))


def test_changes_survive_a_restart_without_rebuilding(
    make_client: Callable[..., TestClient[Litestar]], keyed: Settings
) -> None:
    client = make_client(keyed)
    body = {"filename": "Rockets.md", "text": ROCKETS}
    assert client.post("/documents", params={"wait": "true"}, json=body, headers=AUTH).status_code == 201
    version = client.get("/health").json()["index_version"]
    seed = Path(keyed.paths.seeds) / "rockets.md"
    assert seed.read_bytes() == ROCKETS.encode("utf-8")  # the seed file, exactly as sent

    reopened = QAService.open(keyed, embedder=FakeEmbedder())
    assert reopened.rebuilt is None  # loaded, not rebuilt: the fingerprint matches the seeds
    assert reopened.data.manifest.version == version and "rockets" in reopened.data.documents

    restarted = make_client(keyed)  # a new app over the same index folder
    assert restarted.get("/health").json()["index_version"] == version
    assert "rockets" in _cited(restarted.post("/ask", json={"question": QUESTION}).json())


def test_document_changes_need_the_api_key(make_client: Callable[..., TestClient[Litestar]], keyed: Settings) -> None:
    client = make_client(keyed)
    body = {"doc_id": "rockets", "text": ROCKETS}
    assert client.post("/documents", json=body).status_code == 401
    assert client.post("/documents", json=body, headers={"X-API-Key": "wrong-key-0123456789"}).status_code == 401
    assert client.delete("/documents/rockets").status_code == 401
    bearer = client.post("/documents?wait=true", json=body, headers={"Authorization": f"Bearer {KEY}"})
    assert bearer.status_code == 201
    unkeyed = make_client(tuned(keyed, security={"api_key": ""}))
    refused = unkeyed.post("/documents?wait=true", json=body)
    assert refused.status_code == 403 and "no API key configured" in refused.json()["detail"]


@pytest.mark.parametrize(
    ("body", "status", "detail"),
    [
        ({"text": "x"}, 422, "give a doc_id or a filename"),
        ({"doc_id": "Bad Id", "text": "x"}, 400, "doc_id"),
        ({"doc_id": "ok", "text": "x", "extra": 1}, 400, "extra"),
        ({"doc_id": "ok"}, 400, "text"),
        ({"filename": "a.pdf", "text": "x"}, 422, ".txt or .md"),
        ({"filename": "dir/a.txt", "text": "x"}, 422, "bare file name"),
        ({"doc_id": "ok", "text": " \n\t"}, 422, "empty"),
        ({"doc_id": "ok", "text": "a\u0000b"}, 422, "NUL"),
    ],
)
def test_bad_uploads_are_problem_details(
    keyed_client: TestClient[Litestar], body: dict[str, Any], status: int, detail: str
) -> None:
    response = keyed_client.post("/documents?wait=true", json=body, headers=AUTH)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert detail in response.json()["detail"]


def test_uploads_must_be_json(keyed_client: TestClient[Litestar]) -> None:
    response = keyed_client.post("/documents", content=b"text", headers={**AUTH, "Content-Type": "text/plain"})
    assert response.status_code == 415


def test_large_documents_fit_the_upload_limit(keyed_client: TestClient[Litestar], keyed: Settings) -> None:
    text = "The ferry leaves at noon. " * 4000  # ~100 kB, over server.max_body_bytes (64 kB)
    assert len(text) > keyed.server.max_body_bytes
    response = keyed_client.post("/documents?wait=true", json={"doc_id": "ferry", "text": text}, headers=AUTH)
    assert response.status_code == 201, response.text[:300]


def test_an_update_during_a_reindex_waits_for_it_instead_of_409(
    make_client: Callable[..., TestClient[Litestar]], keyed: Settings
) -> None:
    """Before the write queue, an upload or removal during a re-index was refused with 409."""
    release = threading.Event()
    started = threading.Event()

    def held_rebuild(current: QAService, progress: object) -> QAService:
        started.set()
        release.wait(30)  # a re-index that runs until the test lets it finish
        return current

    client = make_client(tuned(keyed, jobs={"wait_s": 0.2}), rebuild=held_rebuild)  # the removal waits 0.2 s
    assert client.post("/admin/reindex", headers=AUTH).status_code == 202
    assert started.wait(10)
    queued = client.post("/documents", json={"doc_id": "rockets", "text": ROCKETS}, headers=AUTH)
    deleted = client.delete("/documents/us-ukraine-russia-negotiations", headers=AUTH)  # 202 after wait_s
    assert queued.status_code == 202 and deleted.status_code == 202, (queued.text, deleted.text)
    assert [client.get(r.headers["location"], headers=AUTH).json()["status"] for r in (queued, deleted)] == [
        "queued", "queued"
    ]
    assert not (Path(keyed.paths.seeds) / "rockets.txt").exists()  # nothing written while it waits
    release.set()
    for response in (queued, deleted):
        job = wait_for_job(client, response.headers["location"], AUTH)
        assert job["status"] == "done", job
    assert [d["doc_id"] for d in client.get("/documents").json()] == ["rockets"]


def test_document_routes_are_in_the_schema(keyed_client: TestClient[Litestar]) -> None:
    paths = keyed_client.get("/schema/openapi.json").json()["paths"]
    assert {"post", "get"} <= set(paths["/documents"]) and "delete" in paths["/documents/{doc_id}"]
    assert paths["/documents"]["post"]["security"] == [{"apiKey": []}]
    sha = [p for p in paths["/documents/{doc_id}/spans"]["get"]["parameters"] if p["name"] == "sha256"]
    assert sha and sha[0]["required"] is False


# -- other processes ------------------------------------------------------------------------


def test_a_build_saved_elsewhere_is_picked_up(settings: Settings, service: QAService) -> None:
    other = QAService(settings, FakeEmbedder(), service.data)
    assert updates.newer_build(other) is None
    saved = updates.upload(service, ROCKETS, doc_id="rockets").service
    followed = updates.newer_build(other)
    assert followed is not None and followed.data.manifest.version == saved.data.manifest.version
    assert "rockets" in followed.data.documents
    assert updates.newer_build(followed) is None


def test_builds_for_another_model_are_not_followed(settings: Settings, service: QAService) -> None:
    other_model = tuned(settings, chunking={"max_tokens": 64})
    foreign = QAService.open(other_model, embedder=FakeEmbedder())  # rebuilds the shared folder
    with pytest.raises(updates.UnusableIndex, match="stale"):
        updates.newer_build(service)
    assert foreign.data.manifest.fingerprint.chunking["max_tokens"] == 64


def test_apps_sharing_an_index_folder_follow_each_other(
    make_client: Callable[..., TestClient[Litestar]], keyed: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time

    monkeypatch.setattr(extensions, "FOLLOW_INTERVAL_S", 0.05)
    writer, reader = make_client(keyed), make_client(keyed)
    version = writer.post("/documents?wait=true", json={"doc_id": "rockets", "text": ROCKETS}, headers=AUTH).json()[
        "index_version"
    ]
    deadline = time.monotonic() + 10
    while reader.get("/health").json()["index_version"] != version:
        assert time.monotonic() < deadline, "the second app did not pick the new build up"
        time.sleep(0.05)
    assert "rockets" in _cited(reader.post("/ask", json={"question": QUESTION}).json())


def test_seed_files_are_written_atomically(tmp_path: Path) -> None:
    folder = tmp_path / "atomic"
    folder.mkdir()
    target = folder / "doc.txt"
    write_atomically(target, b"one")
    write_atomically(target, "two 🚀".encode())
    assert target.read_text(encoding="utf-8") == "two 🚀"
    assert [p.name for p in folder.iterdir()] == ["doc.txt"]  # no temporary files left


def test_change_records_round_trip() -> None:
    from rag.records import DocumentChange

    change = DocumentChange("d", "removed", None, None, "v", 0, 0, 0, 0, 1.0)
    assert msgspec.json.decode(msgspec.json.encode(change), type=DocumentChange) == change


@pytest.mark.parametrize(
    "body",
    [b'{"doc_id": "x", "text": "\xff"}', b"[" * 100_000 + b"]" * 100_000, b"", b"{not json"],
    ids=["not utf-8", "deeply nested", "empty", "malformed"],
)
def test_undecodable_upload_bodies_are_400(keyed_client: TestClient[Litestar], body: bytes) -> None:
    response = keyed_client.post("/documents", content=body, headers={**AUTH, "Content-Type": "application/json"})
    assert response.status_code == 400, response.text[:300]
    assert response.headers["content-type"].startswith("application/problem+json")
