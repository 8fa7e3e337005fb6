"""What only the PostgreSQL store has: migrations, its lexical tables, rankings equal to the local store's."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from litestar import Litestar
from litestar.testing import TestClient

from rag.config import Settings, load_settings
from rag.engine import updates
from rag.engine.service import QAService
from tests.conftest import ROOT, FakeEmbedder, tuned

pytestmark = pytest.mark.postgres
QUERIES = [
    "What does Moscow insist Ukraine must do?",
    "Which architectures does the current Debian release support?",
    "How does APT choose between package versions?",
    "revert a faulty merge",
    "Which archive area forms the Debian distribution?",
]


@pytest.fixture
def pg_settings(pg_dsn: str, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("RAG_STORE__BACKEND", "postgres")
    monkeypatch.setenv("RAG_STORE__DSN", pg_dsn)
    return load_settings()


SEED_DOCUMENTS = ("debian-faq-compatibility.txt", "debian-handbook-apt-get.md", "debian-policy-archive.rst",
                  "git-howto-revert-a-faulty-merge.txt")  # what QUERIES ask about


def _seeds(settings: Settings) -> None:
    """A few documents of the development corpus as seed files, so rankings have real competition."""
    for name in SEED_DOCUMENTS:
        path = ROOT / "eval" / "corpus" / "docs" / name
        (Path(settings.paths.seeds) / f"{path.stem}.txt").write_bytes(path.read_bytes())


def test_rankings_equal_the_local_store(pg_settings: Settings) -> None:
    _seeds(pg_settings)
    in_database = QAService.open(pg_settings, embedder=FakeEmbedder())
    on_disk = QAService.open(tuned(pg_settings, store={"backend": "local", "dsn": ""}), embedder=FakeEmbedder())
    assert [c.text for c in in_database.data.chunks] == [c.text for c in on_disk.data.chunks]
    for query in QUERIES:
        vector = on_disk.embed_question(query)
        n = on_disk.settings.retrieval.candidates
        local_bm25 = on_disk.retriever.bm25_ranking(query, n)
        table_bm25 = in_database.retriever.bm25_ranking(query, n)
        assert list(table_bm25) == list(local_bm25)  # the same BM25: same order, same scores
        assert list(table_bm25.values()) == pytest.approx(list(local_bm25.values()), rel=1e-5)
        local_dense = on_disk.retriever.dense_ranking(vector, n)
        pg_dense = in_database.retriever.dense_ranking(vector, n)
        assert list(pg_dense.values()) == pytest.approx(list(local_dense.values()), abs=1e-5)  # exact search
        assert on_disk.ask(query).answer == in_database.ask(query).answer


def _term_counts(dsn: str) -> tuple[dict[str, int], dict[str, int], tuple[Any, ...]]:
    import psycopg

    with psycopg.connect(dsn) as conn:
        stored = dict(conn.execute("SELECT term, df FROM rag_terms").fetchall())
        counted = dict(conn.execute("SELECT term, count(*) FROM rag_postings GROUP BY term").fetchall())
        state = conn.execute(
            "SELECT s.chunks - count(c.*), s.total_length - coalesce(sum(c.length), 0) "
            "FROM rag_state s LEFT JOIN rag_chunks c ON true GROUP BY s.chunks, s.total_length"
        ).fetchone()
    assert state is not None
    return stored, counted, tuple(state)


def test_term_statistics_stay_in_step_with_the_postings(pg_settings: Settings, pg_dsn: str) -> None:
    service = QAService.open(pg_settings, embedder=FakeEmbedder())
    service = updates.upload(service, "Zircon gauges. Zircon again, and basalt.", doc_id="rocks").service
    service = updates.upload(service, "Basalt only now. Nothing else.", doc_id="rocks").service
    stored, counted, drift = _term_counts(pg_dsn)
    assert stored == counted and "basalt" in stored and "zircon" not in stored and drift == (0, 0)
    updates.remove(service, "rocks")
    stored, counted, drift = _term_counts(pg_dsn)
    assert stored == counted and "basalt" not in stored and drift == (0, 0)


def test_spans_in_the_table_are_code_points(pg_settings: Settings, pg_dsn: str) -> None:
    import psycopg

    service = QAService.open(pg_settings, embedder=FakeEmbedder())
    text = "Ｔｉｔｌｅ 𝔄\n\nThe 🚀 rose. Then 𝔷 fell; it was 🌦 out.\n"
    updates.upload(service, text, doc_id="astral")
    with psycopg.connect(pg_dsn) as conn:
        rows = conn.execute(
            "SELECT s.text, substr(d.text, s.start_at + 1, s.end_at - s.start_at) FROM rag_clauses s "
            "JOIN rag_documents d USING (doc_id) WHERE doc_id = 'astral'"
        ).fetchall()
    assert rows and all(stored == sliced for stored, sliced in rows)


def test_migrations_are_versioned_and_required(pg_server: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import psycopg

    from rag.cli.main import main

    with psycopg.connect(pg_server.get_uri(), autocommit=True) as admin:
        admin.execute("DROP DATABASE IF EXISTS rag_migrations")
        admin.execute("CREATE DATABASE rag_migrations")
    dsn = pg_server.get_uri("rag_migrations")
    monkeypatch.setenv("RAG_STORE__BACKEND", "postgres")
    monkeypatch.setenv("RAG_STORE__DSN", dsn)
    with pytest.raises(updates.UnusableIndex, match="rag db upgrade"):
        QAService.open(load_settings(), embedder=FakeEmbedder())
    runner = CliRunner()
    first = runner.invoke(main, ["db", "upgrade"])
    assert first.exit_code == 0 and "from version 0 to 1" in first.output, first.output
    second = runner.invoke(main, ["db", "upgrade"])
    assert second.exit_code == 0 and "up to date (version 1)" in second.output
    assert QAService.open(load_settings(), embedder=FakeEmbedder()).rebuilt is not None  # imports the seeds


def test_other_settings_re_embed_the_stored_documents(pg_settings: Settings) -> None:
    service = QAService.open(pg_settings, embedder=FakeEmbedder())
    updates.upload(service, "Uploaded through the API only.", doc_id="uploaded")
    smaller = QAService.open(tuned(pg_settings, chunking={"max_tokens": 64}), embedder=FakeEmbedder())
    assert smaller.rebuilt is not None and "other settings" in smaller.rebuilt
    assert "uploaded" in smaller.data.documents  # the database, not the seeds folder, says what exists
    assert smaller.data.manifest.fingerprint.chunking["max_tokens"] == 64


def test_the_dsn_is_required_and_never_printed() -> None:
    from rag.config import ConfigError

    with pytest.raises(ConfigError, match=r"store\.dsn"):
        load_settings(environ={"RAG_STORE__BACKEND": "postgres"})
    secret = load_settings(environ={"RAG_STORE__BACKEND": "postgres", "RAG_STORE__DSN": "postgresql://u:pw@h/db"})
    assert "pw" not in repr(secret.store)


def test_replicas_on_one_database_follow_each_other_by_notification(
    pg_settings: Settings, make_client: Callable[..., TestClient[Litestar]], monkeypatch: pytest.MonkeyPatch
) -> None:
    import time

    from rag.http import plugin as extensions

    monkeypatch.setattr(extensions, "FOLLOW_INTERVAL_S", 300.0)  # so only NOTIFY can explain a prompt reload
    keyed = tuned(pg_settings, rate_limit={"enabled": False}, security={"api_key": "replica-test-key-0123"})
    writer, reader = make_client(keyed), make_client(keyed)
    added = writer.post("/documents?wait=true", json={"doc_id": "rockets", "text": "The zircon booster landed."},
                        headers={"X-API-Key": "replica-test-key-0123"})  # fmt: skip
    assert added.status_code == 201
    deadline = time.monotonic() + 10  # bounded; the benchmark (benchmarks/postgres_store.py) measures the delay
    while reader.get("/health").json()["index_version"] != added.json()["index_version"]:
        assert time.monotonic() < deadline, "the second replica did not load the change"
        time.sleep(0.01)
    assert reader.get("/search", params={"q": "zircon booster"}).json()["passages"][0]["doc_id"] == "rockets"


def test_searches_go_to_the_standby_once_it_has_the_snapshot(
    pg_settings: Settings, pg_dsn: str, pg_standby: Callable[[str], str]
) -> None:
    from urllib.parse import urlparse

    from rag.index.postgres.connections import search_pool
    from rag.index.postgres.search import SearchRoute

    standby = pg_standby(urlparse(pg_dsn).path.lstrip("/"))
    primary, replica = search_pool(pg_dsn), search_pool(standby)
    served_by_standby = "SELECT pg_is_in_recovery()"
    assert SearchRoute(replica, primary, "0/0").fetch(served_by_standby, None) == [(True,)]
    assert SearchRoute(replica, primary, "FFFFFFFF/0").fetch(served_by_standby, None) == [(False,)]  # not yet
    assert SearchRoute(replica, primary, None).fetch(served_by_standby, None) == [(True,)]

    with_standby = tuned(pg_settings, store={"backend": "postgres", "dsn": pg_dsn, "read_dsn": standby})
    writer = QAService.open(with_standby, embedder=FakeEmbedder())
    fresh = updates.upload(writer, "The zircon booster landed on the barge.", doc_id="rockets").service
    assert fresh.search("zircon booster barge", 1)[0].doc_id == "rockets"  # read-your-writes, at once


def test_a_failed_write_changes_nothing(pg_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    from rag.index.postgres import backend, tables

    service = QAService.open(pg_settings, embedder=FakeEmbedder())
    before = updates.upload(service, "The first text of the note.", doc_id="note").service

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(tables, "insert_rows", broken)  # fails after the old rows were deleted
    with pytest.raises(RuntimeError, match="disk full"):
        updates.upload(before, "The second text of the note.", doc_id="note")
    assert updates.newer_build(before) is None  # no new generation was committed
    assert backend.load(pg_settings).documents["note"].text == "The first text of the note."


def test_concurrent_writers_queue_up(pg_settings: Settings) -> None:
    import threading

    QAService.open(pg_settings, embedder=FakeEmbedder())
    engines = [QAService.open(pg_settings, embedder=FakeEmbedder()) for _ in range(3)]
    failures: list[BaseException] = []

    def write(n: int) -> None:
        try:
            updates.upload(engines[n], f"Writer {n} wrote this note. It has two sentences.", doc_id=f"note-{n}")
        except BaseException as error:  # reported below
            failures.append(error)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not failures and not any(t.is_alive() for t in threads)
    final = QAService.open(pg_settings, embedder=FakeEmbedder())
    assert {f"note-{n}" for n in range(3)} <= set(final.data.documents)
    assert len({c.chunk_id for c in final.data.chunks}) == len(final.data.chunks)


def test_a_reindex_re_imports_the_seeds_folder(
    pg_settings: Settings, make_client: Callable[..., TestClient[Litestar]]
) -> None:
    import time

    admin = {"X-API-Key": "reindex-key-0123456789"}
    client = make_client(tuned(pg_settings, rate_limit={"enabled": False}, security={"api_key": admin["X-API-Key"]}))
    assert client.post("/documents?wait=true", json={"doc_id": "extra", "text": "Only in the database."},
                       headers=admin).status_code == 201  # fmt: skip
    (Path(pg_settings.paths.seeds) / "added.txt").write_text("Added to the seeds folder.\n", encoding="utf-8")
    assert client.post("/admin/reindex", headers=admin).status_code == 202
    deadline = time.monotonic() + 120
    while (status := client.get("/admin/reindex", headers=admin).json())["state"] == "running":
        assert time.monotonic() < deadline, "the reindex did not finish"
        time.sleep(0.05)
    assert status["state"] == "succeeded", status
    listed = {d["doc_id"] for d in client.get("/documents").json()}
    assert "added" in listed and "extra" not in listed  # the seeds folder replaced the stored documents
    assert QAService.open(pg_settings, embedder=FakeEmbedder()).data.documents.keys() == listed
