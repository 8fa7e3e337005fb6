"""One contract for both stores: the local index folder and PostgreSQL (marked ``postgres``).

Each test runs once per backend. The PostgreSQL run uses a real server from pgserver
(``tests.postgres_server``), a database of its own per test, and the fake embedder.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterator

import msgspec
import pytest
from litestar import Litestar
from litestar.testing import TestClient

from rag.config import Settings, load_settings
from rag.engine import updates
from rag.engine.service import QAService
from tests.conftest import FakeEmbedder, tuned

KEY = "contract-test-key-0123456789"
AUTH = {"X-API-Key": KEY}
# Characters outside the Basic Multilingual Plane are one code point each in Python and in
# PostgreSQL, but two UTF-16 units and four UTF-8 bytes: any offset counted in either shows.
ASTRAL = (
    "Mission Log 𝔄𝔭𝔬𝔩𝔩𝔬\n\n"
    "The 🚀 booster landed on the drone ship after the zircon test flight. "
    "Engineers said 𝔷𝔢𝔯𝔬 anomalies were found in the telemetry. "
    "The next launch window opens in March, weather permitting 🌦.\n"
)
VERSIONS = 4  # replacements made while a reader loads engines concurrently


@pytest.fixture(params=["local", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "postgres":
        monkeypatch.setenv("RAG_STORE__BACKEND", "postgres")
        monkeypatch.setenv("RAG_STORE__DSN", request.getfixturevalue("pg_dsn"))
    return str(request.param)


@pytest.fixture
def store_settings(backend: str) -> Settings:
    return tuned(load_settings(), rate_limit={"enabled": False}, security={"api_key": KEY})


@pytest.fixture
def engine(store_settings: Settings) -> QAService:
    return QAService.open(store_settings, embedder=FakeEmbedder())


@pytest.fixture
def http(store_settings: Settings, make_client: Callable[..., TestClient[Litestar]]) -> Iterator[TestClient[Litestar]]:
    yield make_client(store_settings)


def test_spans_are_exact_code_points_beyond_the_bmp(engine: QAService) -> None:
    fresh = updates.upload(engine, ASTRAL, doc_id="apollo").service
    doc = fresh.document("apollo")
    assert doc.text == ASTRAL
    rows = [*fresh.data.sentences, *fresh.data.clauses, *fresh.data.chunks]
    mine = [r for r in rows if r.doc_id == "apollo"]
    assert mine and all(doc.text[r.start : r.end] == r.text for r in mine)
    passage = fresh.search("zircon telemetry anomalies", 3)[0]
    assert passage.doc_id == "apollo" and doc.text[passage.start : passage.end] == passage.text
    answer = fresh.ask("What landed on the drone ship?")
    for citation in answer.citations:
        assert fresh.document(citation.doc_id).text[citation.start : citation.end] == citation.quote
    start = ASTRAL.index("🚀")
    view = fresh.span("apollo", start, start + len("🚀 booster"), context=3)
    assert view.text == "🚀 booster" and view.before == ASTRAL[start - 3 : start]


def test_each_ranker_and_the_fusion_find_the_evidence(engine: QAService, store_settings: Settings) -> None:
    fresh = updates.upload(engine, ASTRAL, doc_id="apollo").service
    hybrid = fresh.search("zircon test flight", 5)
    assert hybrid[0].doc_id == "apollo" and hybrid[0].bm25_score and hybrid[0].dense_score
    assert [p.rank for p in hybrid] == list(range(1, len(hybrid) + 1))
    assert all(a.score >= b.score for a, b in itertools.pairwise(hybrid))
    # The sentence ranker bounded by the candidates (an index above [index] exact_below sentences).
    bounded = QAService(tuned(store_settings, index={"exact_below": 0}), fresh.embedder, fresh.data)
    assert not bounded.retriever.scan_every_sentence
    assert [p.chunk_id for p in bounded.search("zircon test flight", 5)][:1] == [hybrid[0].chunk_id]
    for mode in ("bm25", "dense"):
        alone = tuned(store_settings, retrieval={"mode": mode})
        only = QAService(alone, fresh.embedder, fresh.data).search("zircon test flight", 5)
        assert only[0].doc_id == "apollo"
        assert (only[0].bm25_score is None) == (mode == "dense") and (only[0].dense_score is None) == (mode == "bm25")


def test_a_replaced_document_makes_old_citations_stale(http: TestClient[Litestar]) -> None:
    assert http.post("/documents?wait=true", json={"doc_id": "apollo", "text": ASTRAL}, headers=AUTH).status_code == 201
    old = http.get("/documents/apollo").json()["sha256"]
    start = ASTRAL.index("zircon")
    span = f"/documents/apollo/spans?start={start}&end={start + 6}"
    assert http.get(f"{span}&sha256={old}").json()["text"] == "zircon"
    replaced = http.post("/documents?wait=true", json={"doc_id": "apollo", "text": ASTRAL.replace("zircon", "basalt")},
                         headers=AUTH)  # fmt: skip
    assert replaced.status_code == 200 and replaced.json()["previous_sha256"] == old
    stale = http.get(f"{span}&sha256={old}")
    assert stale.status_code == 409 and "has changed since the citation was made" in stale.json()["detail"]
    assert http.get(span).json()["text"] == "basalt"


def test_a_write_through_one_engine_is_served_by_another_at_once(store_settings: Settings) -> None:
    writer = QAService.open(store_settings, embedder=FakeEmbedder())
    reader = QAService.open(store_settings, embedder=FakeEmbedder())  # another process, in effect
    changed = updates.upload(writer, ASTRAL, doc_id="apollo").service
    followed = updates.newer_build(reader)  # no waiting: the write has committed when upload returns
    assert followed is not None and followed.data.manifest.version == changed.data.manifest.version
    assert followed.search("zircon test flight", 1)[0].doc_id == "apollo"
    assert updates.newer_build(followed) is None


def test_replacing_is_atomic_for_a_concurrent_reader(engine: QAService) -> None:
    def text(version: int) -> str:
        return "\n\n".join(f"Release {version} note {n}: the gauge read {version} units." for n in range(6)) + "\n"

    current = updates.upload(engine, text(0), doc_id="gauge").service
    reader_view = [current]
    seen: list[set[str]] = []
    stop = threading.Event()
    failures: list[BaseException] = []

    def read() -> None:
        try:
            for _ in range(5000):  # bounded in count and time (5 ms a round); loads newer engines
                if stop.is_set():
                    return
                time.sleep(0.005)
                fresh = updates.newer_build(reader_view[0])
                if fresh is not None:
                    reader_view[0] = fresh
                    chunks = [c.text for c in fresh.data.chunks if c.doc_id == "gauge"]
                    seen.append({word for t in chunks for word in t.split() if word.isdigit()})
        except BaseException as error:  # reported by the main thread
            failures.append(error)

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    for version in range(1, VERSIONS + 1):
        current = updates.upload(current, text(version), doc_id="gauge").service
    stop.set()
    thread.join(timeout=60)
    assert not thread.is_alive() and not failures
    assert seen and all(len(numbers) == 1 for numbers in seen), seen  # never two versions in one engine
    final = updates.newer_build(reader_view[0]) or reader_view[0]
    assert {c.text.split()[1] for c in final.data.chunks if c.doc_id == "gauge"} == {f"{VERSIONS}"}


def test_a_removed_document_leaves_nothing_behind(engine: QAService) -> None:
    added = updates.upload(engine, ASTRAL, doc_id="apollo").service
    result = updates.remove(added, "apollo")
    gone = result.service
    assert result.action == "removed" and result.previous_sha256 == added.document("apollo").sha256
    assert "apollo" not in {d.doc_id for d in gone.documents()}
    assert not [r for r in [*gone.data.sentences, *gone.data.clauses, *gone.data.chunks] if r.doc_id == "apollo"]
    assert all(p.doc_id != "apollo" for p in gone.search("zircon telemetry drone ship", 10))
    with pytest.raises(updates.UnknownDocument):
        updates.remove(gone, "apollo")
    assert len(gone.data.sentence_vectors) == len(gone.data.sentences)
    assert len(gone.data.clause_vectors) == len(gone.data.clauses)


def test_an_unchanged_upload_changes_nothing(engine: QAService) -> None:
    added = updates.upload(engine, ASTRAL, doc_id="apollo")
    again = updates.upload(added.service, ASTRAL, doc_id="apollo")
    assert again.action == "unchanged" and again.chunks_embedded == 0
    assert again.service.data.manifest.version == added.service.data.manifest.version


def test_records_survive_a_round_trip_through_the_store(engine: QAService, store_settings: Settings) -> None:
    fresh = updates.upload(engine, ASTRAL, doc_id="apollo").service
    reopened = QAService.open(store_settings, embedder=FakeEmbedder())
    assert reopened.rebuilt is None
    for name in ("sentences", "clauses", "chunks", "candidates"):
        assert msgspec.to_builtins(getattr(reopened.data, name)) == msgspec.to_builtins(getattr(fresh.data, name))
    assert (reopened.data.sentence_vectors == fresh.data.sentence_vectors).all()
    assert (reopened.data.clause_vectors == fresh.data.clause_vectors).all()
    assert reopened.data.documents == fresh.data.documents


# -- collections and metadata filters ---------------------------------------------------------

HANDBOOK = "Handbook\n\nThe zircon pump is serviced every March by the night crew.\n"
NOTES = "Notes\n\nThe zircon pump failed in March; the night crew replaced its seal.\n"


def _two_collections(engine: QAService) -> QAService:
    one = updates.upload(engine, HANDBOOK, doc_id="handbook", collection="ops",
                         metadata={"source": "wiki", "tags": ["pumps", "faq"], "year": 2024}).service  # fmt: skip
    return updates.upload(one, NOTES, doc_id="notes", collection="eng", metadata={"tags": ["pumps"]}).service


def test_a_collection_never_answers_from_another(engine: QAService) -> None:
    from rag.retrieval.filters import SearchFilter

    service = _two_collections(engine)
    ops, eng = SearchFilter(collection="ops"), SearchFilter(collection="eng")
    assert {p.doc_id for p in service.search("zircon pump night crew", 10, ops)} == {"handbook"}
    assert {p.doc_id for p in service.search("zircon pump night crew", 10, eng)} == {"notes"}
    for filters in (ops, eng):
        answer = service.ask("When is the zircon pump serviced?", filters=filters)
        allowed = {d.doc_id for d in service.documents(filters)}
        assert {p.doc_id for p in answer.passages} <= allowed and {c.doc_id for c in answer.citations} <= allowed
    default = {p.doc_id for p in service.search("zircon pump", 10, SearchFilter(collection="default"))}
    assert default.isdisjoint({"handbook", "notes"})
    assert service.search("zircon pump", 10, SearchFilter(collection="nobody")) == []
    assert service.ask("zircon pump?", filters=SearchFilter(collection="nobody")).abstained


def test_metadata_filters_match_values_and_sets(engine: QAService) -> None:
    from rag.retrieval.filters import SearchFilter

    service = _two_collections(engine)

    def found(**parts: object) -> set[str]:
        chosen = SearchFilter(**parts)  # type: ignore[arg-type]
        return {p.doc_id for p in service.search("zircon pump", 10, chosen)}

    assert found(metadata={"tags": "pumps"}) == {"handbook", "notes"}
    assert found(metadata={"tags": "faq"}) == {"handbook"}
    assert found(metadata={"source": ["wiki", "mail"], "year": 2024}) == {"handbook"}
    assert found(metadata={"year": "2024"}) == set()  # types must match: the string is not the number
    assert found(doc_ids=["notes"], metadata={"tags": "pumps"}) == {"notes"}
    assert found(metadata={"title": "Notes"}) == {"notes"}
    assert service.document("handbook").metadata == {"source": "wiki", "tags": ["pumps", "faq"], "year": 2024}


def test_a_filtered_search_still_returns_k_passages(engine: QAService) -> None:
    from rag.retrieval.filters import SearchFilter

    service = engine
    for n in range(6):
        sentences = " ".join(f"Crew {n} logged pump reading {n}-{i} on shift {i}." for i in range(12))
        service = updates.upload(service, f"Log {n}\n\n{sentences}\n", doc_id=f"log-{n}",
                                 collection="logs" if n < 2 else "other").service  # fmt: skip
    logs = SearchFilter(collection="logs")
    allowed_chunks = [c for c in service.data.chunks if c.doc_id in {"log-0", "log-1"}]
    k = min(5, len(allowed_chunks))
    passages = service.search("pump reading shift", k, logs)
    assert len(passages) == k and {p.doc_id for p in passages} <= {"log-0", "log-1"}


def test_metadata_changes_without_re_embedding(engine: QAService) -> None:
    service = updates.upload(engine, HANDBOOK, doc_id="handbook", collection="ops").service
    moved = updates.upload(service, HANDBOOK, doc_id="handbook", collection="eng", metadata={"tags": ["x"]})
    assert moved.action == "replaced" and moved.chunks_embedded == 0
    assert moved.service.document("handbook").collection == "eng"
    again = updates.upload(moved.service, HANDBOOK, doc_id="handbook", collection="eng", metadata={"tags": ["x"]})
    assert again.action == "unchanged"


def test_collections_and_filters_over_http(http: TestClient[Litestar]) -> None:
    body = {"doc_id": "handbook", "text": HANDBOOK, "collection": "ops", "source": "wiki", "tags": ["faq"]}
    assert http.post("/documents?wait=true", json=body, headers=AUTH).status_code == 201
    assert http.post("/documents?wait=true", json={"doc_id": "notes", "text": NOTES, "collection": "eng"},
                     headers=AUTH).status_code == 201  # fmt: skip
    listed = http.get("/documents", params={"collection": "ops"}).json()
    assert [d["doc_id"] for d in listed] == ["handbook"]
    assert listed[0]["metadata"] == {"source": "wiki", "tags": ["faq"]}
    searched = http.get("/search", params={"q": "zircon pump", "collection": "eng"}).json()["passages"]
    assert searched and {p["doc_id"] for p in searched} == {"notes"}
    tagged = http.get("/search", params={"q": "zircon pump", "filters": '{"metadata": {"tags": "faq"}}'}).json()
    assert {p["doc_id"] for p in tagged["passages"]} == {"handbook"}
    answer = http.post("/ask", json={"question": "When is the zircon pump serviced?", "collection": "ops"}).json()
    assert {c["doc_id"] for c in answer["citations"]} <= {"handbook"} and answer["passages"]
    assert http.get("/search", params={"q": "pump", "filters": "{not json"}).status_code == 422
    clash = http.post("/ask", json={"question": "pump?", "collection": "ops", "filters": {"collection": "eng"}})
    assert clash.status_code == 200 and clash.json()["abstained"] and not clash.json()["passages"]  # matches nothing


def test_a_collection_key_reads_and_writes_its_collection_only(
    store_settings: Settings, make_client: Callable[..., TestClient[Litestar]]
) -> None:
    ops, eng = {"X-API-Key": "ops-key-0123456789abcdef"}, {"X-API-Key": "eng-key-0123456789abcdef"}
    keys = {"ops": ops["X-API-Key"], "eng": eng["X-API-Key"]}
    client = make_client(tuned(store_settings, security={"api_key": KEY, "read_requires_key": True,
                                                         "collection_keys": keys}))  # fmt: skip
    assert client.post("/documents?wait=true", json={"doc_id": "handbook", "text": HANDBOOK},
                       headers=ops).status_code == 201  # fmt: skip
    assert client.get("/documents/handbook", headers=AUTH).json()["collection"] == "ops"  # the key's collection
    assert client.post("/documents?wait=true", json={"doc_id": "notes", "text": NOTES}, headers=eng).status_code == 201
    # writes: not into another collection, not over another's document, not another's deletion
    assert client.post("/documents?wait=true", json={"doc_id": "x", "text": NOTES, "collection": "eng"},
                       headers=ops).status_code == 403  # fmt: skip
    assert client.post("/documents", json={"doc_id": "notes", "text": HANDBOOK}, headers=ops).status_code == 403
    assert client.delete("/documents/notes", headers=ops).status_code == 404
    assert client.post("/admin/reindex", headers=ops).status_code == 403
    # reads: confined, another collection's documents are absent
    searched = client.get("/search", params={"q": "zircon pump night crew"}, headers=ops).json()["passages"]
    assert searched and {p["doc_id"] for p in searched} == {"handbook"}
    assert client.get("/search", params={"q": "pump", "collection": "eng"}, headers=ops).status_code == 403
    answer = client.post("/ask", json={"question": "When is the zircon pump serviced?"}, headers=eng).json()
    assert {p["doc_id"] for p in answer["passages"]} == {"notes"}
    assert [d["doc_id"] for d in client.get("/documents", headers=eng).json()] == ["notes"]
    assert client.get("/documents/handbook", headers=eng).status_code == 404
    assert client.get("/documents/handbook/spans", params={"start": 0, "end": 4}, headers=eng).status_code == 404
    assert client.get("/documents/handbook/spans", params={"start": 0, "end": 4}, headers=ops).status_code == 200
    assert client.get("/search", params={"q": "pump"}).status_code == 401
    everything = client.get("/search", params={"q": "zircon pump night crew"}, headers=AUTH).json()["passages"]
    assert {"handbook", "notes"} <= {p["doc_id"] for p in everything}  # the main key reads every collection
    assert client.delete("/documents/handbook", headers=ops).status_code == 200
