"""Loading what the engine holds in memory from the store, as one consistent snapshot.

Answer extraction reads every sentence and clause with its vector (rag.answering), so each
process keeps those, and the documents, in memory; chunk vectors and postings stay in the
database and are searched there (rag.index.postgres.search). The load runs in one
repeatable-read transaction, so it is one generation's rows, never a mix of two.

Sentence and clause ids become row numbers here (``sentences[i].sentence_id == i``), in the
order the local store uses (documents by seed-file name, then position), because answer
extraction indexes the vector arrays by them. Chunk ids stay the database's, so the ids a
search returns name the loaded chunks directly.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import numpy.typing as npt
import psycopg
from pgvector import Vector

from rag.index.content import IndexData
from rag.index.manifest import Fingerprint, Manifest
from rag.index.postgres.search import PgVectorIndex, SearchRoute, TableLexicalIndex
from rag.records import Candidate, Chunk, Clause, Document, Sentence

SETTINGS_KEYS = ("format_version", "model", "dim", "chunking", "index")


def settings_of(fingerprint: Fingerprint) -> dict[str, Any]:
    """The part of a fingerprint the database records: everything but the documents."""
    builtins: dict[str, Any] = msgspec.to_builtins(fingerprint)
    return {k: builtins[k] for k in SETTINGS_KEYS}


def generation_version(generation: int) -> str:
    return f"pg-{generation}"


def _vectors(rows: list[Any], dim: int) -> npt.NDArray[np.float32]:
    if not rows:
        return np.zeros((0, dim), dtype=np.float32)
    return np.ascontiguousarray(np.stack([v.to_numpy() if isinstance(v, Vector) else v for v in rows]),
                                dtype=np.float32)  # fmt: skip


def load_snapshot(
    conn: psycopg.Connection[Any], route: SearchRoute, exact_below: int, ef_search: int, lexical_limit: int
) -> IndexData:
    """Everything the engine reads, from one generation of the tables."""
    conn.commit()  # end any open transaction, so the settings below apply to a fresh one
    isolation, read_only = conn.isolation_level, conn.read_only  # a pooled connection gets them back
    conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
    conn.read_only = True
    try:
        with conn.transaction(), conn.cursor(binary=True) as cur:
            state = cur.execute(
                "SELECT generation, settings, chunks, "
                "CASE WHEN pg_is_in_recovery() THEN NULL ELSE pg_current_wal_lsn()::text END FROM rag_state"
            ).fetchone()
            assert state is not None and state[1] is not None, "the store holds no index"
            generation, stored, chunk_count, lsn = int(state[0]), dict(state[1]), int(state[2]), state[3]
            query = "SELECT doc_id, title, path, sha256, text, collection, metadata FROM rag_documents"
            docs = [Document(*row) for row in cur.execute(query)]
            docs.sort(key=lambda d: (Path(d.path).name, d.doc_id))  # the local store's (seed-file) order
            rank = {d.doc_id: i for i, d in enumerate(docs)}
            sentence_rows = sorted(
                cur.execute(
                    "SELECT sentence_id, doc_id, start_at, end_at, text, embedding, kind, context FROM rag_sentences"
                ).fetchall(),
                key=lambda r: (rank[r[1]], r[0]),
            )
            clause_rows = sorted(
                cur.execute(
                    "SELECT clause_id, sentence_id, doc_id, start_at, end_at, text, embedding FROM rag_clauses"
                ).fetchall(),
                key=lambda r: (rank[r[2]], r[0]),
            )
            chunk_rows = sorted(
                cur.execute(
                    "SELECT chunk_id, doc_id, start_at, end_at, text, tokens, sentence_ids FROM rag_chunks"
                ).fetchall(),
                key=lambda r: (rank[r[1]], r[0]),
            )
            frequencies = {str(t): int(df) for t, df in cur.execute("SELECT term, df FROM rag_terms")}
            candidate_rows = cur.execute(
                "SELECT sentence_id, start_at, end_at, kind, label, head, ordinal FROM rag_candidates"
            ).fetchall()
    finally:
        conn.read_only = read_only
        conn.isolation_level = isolation
    row_of_sentence = {int(r[0]): i for i, r in enumerate(sentence_rows)}
    sentences = [
        Sentence(i, r[1], r[2], r[3], r[4], r[6], row_of_sentence.get(int(r[7]), -1))
        for i, r in enumerate(sentence_rows)
    ]
    ordered = sorted(candidate_rows, key=lambda r: (row_of_sentence[int(r[0])], r[6]))  # as the build makes them
    candidates = [Candidate(row_of_sentence[int(r[0])], r[1], r[2], r[3], r[4], r[5]) for r in ordered]
    clauses = [Clause(i, row_of_sentence[int(r[1])], r[2], r[3], r[4], r[5]) for i, r in enumerate(clause_rows)]
    chunks = [
        Chunk(int(r[0]), r[1], r[2], r[3], r[4], r[5], tuple(row_of_sentence[int(s)] for s in r[6])) for r in chunk_rows
    ]
    dim = int(stored["dim"])
    fingerprint = Fingerprint(**stored, documents={d.doc_id: d.sha256 for d in docs})
    exact = chunk_count < exact_below
    route = SearchRoute(route.read, route.primary, lsn)  # searches see at least this snapshot's rows
    vectors = PgVectorIndex(route, (c.chunk_id for c in chunks), exact, ef_search)
    manifest = Manifest(
        fingerprint=fingerprint,
        version=generation_version(generation),
        created_at=0.0,
        index_kind=vectors.kind,
        chunks=len(chunks),
        sentences=len(sentences),
        files={},
    )
    return IndexData(
        manifest=manifest,
        documents={d.doc_id: d for d in docs},
        sentences=sentences,
        chunks=chunks,
        vectors=vectors,
        sentence_vectors=_vectors([r[5] for r in sentence_rows], dim),
        clauses=clauses,
        clause_vectors=_vectors([r[6] for r in clause_rows], dim),
        candidates=candidates,
        lexical=TableLexicalIndex(route, [c.chunk_id for c in chunks], frequencies, lexical_limit),
    )


def stored_generation(conn: psycopg.Connection[Any]) -> tuple[int, dict[str, Any] | None]:
    row = conn.execute("SELECT generation, settings FROM rag_state").fetchone()
    conn.commit()
    assert row is not None
    return int(row[0]), (dict(row[1]) if row[1] is not None else None)
