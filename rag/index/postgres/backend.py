"""The PostgreSQL store as the engine sees it: open (building if needed), change one document, follow.

The database is the record of which documents exist. ``open_database`` imports the seeds
folder only into a store that has never been built (or when a rebuild is asked for, as
``rag index --force`` and ``/admin/reindex`` do); otherwise it serves the documents the
database holds, added and removed through the API or the CLI by any process. If the model
or the chunking settings differ from the ones the store was built with, every stored
document is chunked and embedded again (in one transaction, like every write).

A document change embeds only that document, outside the transaction; the transaction then
replaces its rows, postings and term counts and bumps the generation, so every replica sees
the whole change at its commit or none of it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import msgspec
import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from rag.config import Settings
from rag.embedding.base import Embedder
from rag.errors import UnusableIndex
from rag.index.build import Progress, assemble, fingerprint_for
from rag.index.content import ChunkTable, IndexData
from rag.index.postgres import schema, tables
from rag.index.postgres.connections import connect, search_pool
from rag.index.postgres.search import SearchRoute
from rag.index.postgres.snapshot import generation_version, load_snapshot, settings_of, stored_generation
from rag.index.vectors import ef_construction_for
from rag.records import Document

log = logging.getLogger("rag.index.postgres")
Action = Literal["added", "replaced", "removed", "unchanged"]
STOP_CHECK_S = 0.5


class DocumentNotStored(LookupError):
    pass


@dataclass(frozen=True)
class StoredChange:
    action: Action
    previous_sha256: str | None
    chunks_embedded: int
    chunks_reused: int


def _connect_checked(settings: Settings) -> psycopg.Connection[Any]:
    conn = connect(settings.store.dsn)
    found = schema.applied_version(conn)
    conn.commit()
    if found != schema.LATEST:
        conn.close()
        raise UnusableIndex(
            f"the database schema is at version {found}, this rag needs {schema.LATEST}: run `rag db upgrade`"
        )
    return conn


def load(settings: Settings, conn: psycopg.Connection[Any] | None = None) -> IndexData:
    """The engine's snapshot, read from the primary (through ``conn``, else a pooled connection:
    a reload after every change should not pay for a new server process); searches go to
    ``read_dsn`` when it is set."""
    store = settings.store
    primary = search_pool(store.dsn)
    route = SearchRoute(read=search_pool(store.read_dsn) if store.read_dsn else primary, primary=primary)
    limit = max(1000, settings.retrieval.candidates)
    if conn is not None:
        return load_snapshot(conn, route, settings.index.exact_below, settings.index.hnsw_ef_search, limit)
    with primary.connection() as pooled:
        return load_snapshot(pooled, route, settings.index.exact_below, settings.index.hnsw_ef_search, limit)


def open_database(
    settings: Settings,
    embedder: Embedder,
    seeds: Sequence[Document],
    progress: Progress | None = None,
    force_rebuild: bool = False,
) -> tuple[IndexData, str | None]:
    """The store's snapshot, rebuilt first if never built, built for other settings, or asked to."""
    expected = settings_of(fingerprint_for(settings, embedder, []))
    with _connect_checked(settings) as conn:
        _, stored = stored_generation(conn)
        reason: str | None = None
        documents: Sequence[Document] = seeds
        if force_rebuild:
            reason = "rebuild requested: the seeds folder replaces the stored documents"
        elif stored is None:
            reason = "the database holds no index yet: importing the seeds folder"
        elif stored != expected:
            changed = sorted(k for k in expected if stored.get(k) != expected[k])
            reason = f"the store was built with other settings ({', '.join(changed)}): re-embedding its documents"
            documents = stored_documents(conn)
        if reason is not None:
            log.warning("building the index in the database: %s", reason)
            rebuild(conn, settings, embedder, documents, progress)
        return load(settings, conn), reason


def stored_documents(conn: psycopg.Connection[Any]) -> list[Document]:
    rows = conn.execute(
        "SELECT doc_id, title, path, sha256, text, collection, metadata FROM rag_documents ORDER BY doc_id"
    ).fetchall()
    conn.commit()
    return [Document(*row) for row in rows]


def rebuild(
    conn: psycopg.Connection[Any],
    settings: Settings,
    embedder: Embedder,
    documents: Sequence[Document],
    progress: Progress | None = None,
) -> None:
    """Replace everything with ``documents``, chunked and embedded now, in one transaction."""
    content = assemble(settings, embedder, documents, progress=progress).content
    vectors = (content.chunk_vectors, content.sentence_vectors, content.clause_vectors)
    index = settings.index
    with conn.transaction():
        tables.lock_writers(conn)
        tables.prepare_vector_column(conn, embedder.dim)
        tables.insert_rows(conn, documents, content.table, vectors, generation=0)
        if progress:
            progress("indexing", 0, 1)
        tables.create_vector_index(conn, index.hnsw_m, ef_construction_for(index.hnsw_m))
        tables.bump_generation(conn, settings_of(fingerprint_for(settings, embedder, [])))
    if progress:
        progress("indexing", 1, 1)


def _shifted(table: ChunkTable, sentence0: int, chunk0: int, clause0: int) -> ChunkTable:
    """A one-document table renumbered to start at the database's first free ids."""
    replace = msgspec.structs.replace
    return ChunkTable(
        sentences=[
            replace(s, sentence_id=s.sentence_id + sentence0, context=s.context + sentence0 if s.context >= 0 else -1)
            for s in table.sentences
        ],
        candidates=[replace(c, sentence_id=c.sentence_id + sentence0) for c in table.candidates],
        clauses=[
            replace(c, clause_id=c.clause_id + clause0, sentence_id=c.sentence_id + sentence0) for c in table.clauses
        ],
        chunks=[
            replace(c, chunk_id=c.chunk_id + chunk0, sentence_ids=tuple(s + sentence0 for s in c.sentence_ids))
            for c in table.chunks
        ],
    )


def change_document(
    settings: Settings,
    embedder: Embedder,
    upsert: Document | None = None,
    remove: str | None = None,
    progress: Progress | None = None,
) -> StoredChange:
    """Add or replace ``upsert``, or remove the document ``remove``, in one transaction."""
    assert (upsert is None) != (remove is None)
    doc_id = upsert.doc_id if upsert is not None else remove
    table, vectors = None, None
    if upsert is not None:  # chunk and embed before taking the writer lock: the slow part
        content = assemble(settings, embedder, [upsert], progress=progress).content
        table, vectors = content.table, (content.chunk_vectors, content.sentence_vectors, content.clause_vectors)
    with _connect_checked(settings) as conn, conn.transaction():
        tables.lock_writers(conn)
        row = conn.execute(
            "SELECT doc_id, title, path, sha256, text, collection, metadata FROM rag_documents WHERE doc_id = %s",
            (doc_id,),
        ).fetchone()
        stored = Document(*row) if row else None
        previous = stored.sha256 if stored else None
        total = conn.execute("SELECT chunks FROM rag_state").fetchone()
        reused = int(total[0]) if total else 0
        if upsert is None and previous is None:
            raise DocumentNotStored(f"no document with id {doc_id!r}")
        if upsert is not None and stored is not None and stored.sha256 == upsert.sha256:
            if all(getattr(stored, f) == getattr(upsert, f) for f in ("title", "collection", "metadata")):
                return StoredChange("unchanged", previous, 0, reused)
            conn.execute(  # the same text: only what filters match changes, nothing is re-embedded
                "UPDATE rag_documents SET title = %s, collection = %s, metadata = %s WHERE doc_id = %s",
                (upsert.title, upsert.collection, Jsonb(upsert.metadata), upsert.doc_id),
            )
            tables.bump_generation(conn)
            return StoredChange("replaced", previous, 0, reused)
        if previous is not None:
            reused -= tables.delete_document(conn, str(doc_id))
        generation = tables.bump_generation(conn)
        if upsert is not None and table is not None and vectors is not None:
            table = _shifted(table, *tables.next_ids(conn))
            tables.insert_rows(conn, [upsert], table, vectors, generation)
    if progress:
        progress("saving", 1, 1)
    action: Action = "removed" if upsert is None else "added" if previous is None else "replaced"
    return StoredChange(action, previous, len(table.chunks) if table else 0, reused)


class ChangeListener:
    """Waits for the ``NOTIFY`` every committed write sends (rag.index.postgres.tables)."""

    def __init__(self, dsn: str) -> None:
        self._dsn = dsn
        self._conn: psycopg.Connection[Any] | None = None

    def __enter__(self) -> ChangeListener:
        return self

    def __exit__(self, *_: object) -> None:
        if self._conn is not None:
            self._conn.close()

    def wait(self, stop: threading.Event, timeout_s: float) -> bool:
        """Return when a change is announced, ``timeout_s`` passes or ``stop`` is set; True to stop."""
        deadline = time.monotonic() + timeout_s
        while not stop.is_set() and (left := deadline - time.monotonic()) > 0:
            try:
                if self._conn is None:
                    self._conn = connect(self._dsn, autocommit=True)
                    self._conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(tables.CHANNEL)))
                # Short slices, so a stop is noticed within STOP_CHECK_S even when nothing changes.
                if any(True for _ in self._conn.notifies(timeout=min(left, STOP_CHECK_S), stop_after=1)):
                    return stop.is_set()
            except psycopg.OperationalError as error:  # the server went away: reconnect after a pause
                log.warning("not listening for store changes: %s", error)
                if self._conn is not None:
                    self._conn.close()
                self._conn = None
                stop.wait(min(left, STOP_CHECK_S))
        return stop.is_set()


def current_version(settings: Settings) -> str:
    """The version a snapshot loaded now would have (compare with ``Manifest.version``)."""
    with search_pool(settings.store.dsn).connection() as conn:
        generation, _ = stored_generation(conn)
        return generation_version(generation)


def upgrade(dsn: str) -> tuple[int, list[int]]:
    """Apply pending migrations; (the version before, the versions applied)."""
    with connect(dsn) as conn:
        before = schema.applied_version(conn)
        conn.commit()
        return before, schema.upgrade(conn)
