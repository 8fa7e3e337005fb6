"""Writing the index into PostgreSQL: documents, spans, vectors and postings, one transaction each.

Every write holds ``WRITER_LOCK`` (a transaction-level advisory lock), so writers from any
number of processes or hosts queue up instead of interleaving, and ends by bumping
``rag_state.generation`` and sending ``NOTIFY rag_store``: readers compare generations to know
their in-memory copy of the sentence table is out of date. Readers never wait for writers
(MVCC): a search sees the database either before or after a change, never half of it.

Row ids (sentences, clauses, chunks) are allocated from the current maximum under the writer
lock and never reused while the rows live, so an id found by a search names the same row in
every process. Rows are written with binary ``COPY``: the vectors go in as float32, unrounded.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from rag.index.content import ChunkTable
from rag.records import Document
from rag.text.normalize import content_terms

WRITER_LOCK = 7_301_702
CHANNEL = "rag_store"
Vectors = npt.NDArray[np.float32]


def lock_writers(conn: psycopg.Connection[Any]) -> None:
    conn.execute("SELECT pg_advisory_xact_lock(%s)", (WRITER_LOCK,))


def next_ids(conn: psycopg.Connection[Any]) -> tuple[int, int, int]:
    """The first free sentence, chunk and clause ids (call under the writer lock)."""
    row = conn.execute(
        """SELECT (SELECT coalesce(max(sentence_id) + 1, 0) FROM rag_sentences),
                  (SELECT coalesce(max(chunk_id) + 1, 0) FROM rag_chunks),
                  (SELECT coalesce(max(clause_id) + 1, 0) FROM rag_clauses)"""
    ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1]), int(row[2])


def lexical_length(terms: Sequence[str]) -> int:
    """A chunk's BM25 length; an empty chunk counts 1, as bm25s indexes it with a placeholder term."""
    return len(terms) or 1


def insert_rows(
    conn: psycopg.Connection[Any],
    documents: Sequence[Document],
    table: ChunkTable,
    vectors: tuple[Vectors, Vectors, Vectors],
    generation: int,
) -> None:
    """Insert documents with their sentences, clauses, chunks (vectors: chunk, sentence, clause rows
    in table order) and postings, and count the postings into ``rag_terms`` and ``rag_state``."""
    chunk_vectors, sentence_vectors, clause_vectors = vectors
    with conn.cursor() as cur:
        with cur.copy(
            "COPY rag_documents (doc_id, title, path, sha256, text, collection, metadata, generation) "
            "FROM STDIN (FORMAT BINARY)"
        ) as copy:
            copy.set_types(["text", "text", "text", "text", "text", "text", "jsonb", "int8"])
            for d in documents:
                copy.write_row(
                    (d.doc_id, d.title, d.path, d.sha256, d.text, d.collection, Jsonb(d.metadata), generation)
                )
        with cur.copy(
            "COPY rag_sentences (sentence_id, doc_id, start_at, end_at, text, kind, context, embedding) "
            "FROM STDIN (FORMAT BINARY)"
        ) as copy:
            copy.set_types(["int8", "text", "int4", "int4", "text", "text", "int8", "vector"])
            for s, v in zip(table.sentences, sentence_vectors, strict=True):
                copy.write_row((s.sentence_id, s.doc_id, s.start, s.end, s.text, s.kind, s.context, v))
        with cur.copy(
            "COPY rag_candidates (sentence_id, ordinal, start_at, end_at, kind, label, head) FROM STDIN (FORMAT BINARY)"
        ) as copy:
            copy.set_types(["int8", "int4", "int4", "int4", "text", "text", "text"])
            seen: Counter[int] = Counter()
            for candidate in table.candidates:
                sid = candidate.sentence_id
                copy.write_row((sid, seen[sid], candidate.start, candidate.end, candidate.kind, candidate.label,
                                candidate.head))  # fmt: skip
                seen[sid] += 1
        with cur.copy(
            "COPY rag_clauses (clause_id, sentence_id, doc_id, start_at, end_at, text, embedding) "
            "FROM STDIN (FORMAT BINARY)"
        ) as copy:
            copy.set_types(["int8", "int8", "text", "int4", "int4", "text", "vector"])
            for cl, v in zip(table.clauses, clause_vectors, strict=True):
                copy.write_row((cl.clause_id, cl.sentence_id, cl.doc_id, cl.start, cl.end, cl.text, v))
        terms_of = [content_terms(c.text) for c in table.chunks]
        with cur.copy(
            "COPY rag_chunks (chunk_id, doc_id, start_at, end_at, text, tokens, sentence_ids, length, embedding) "
            "FROM STDIN (FORMAT BINARY)"
        ) as copy:
            copy.set_types(["int8", "text", "int4", "int4", "text", "int4", "int8[]", "int4", "vector"])
            for c, terms, v in zip(table.chunks, terms_of, chunk_vectors, strict=True):
                row = (c.chunk_id, c.doc_id, c.start, c.end, c.text, c.tokens, list(c.sentence_ids))
                copy.write_row((*row, lexical_length(terms), v))
        with cur.copy("COPY rag_postings (term, chunk_id, tf, length) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(["text", "int8", "int4", "int4"])
            for c, terms in zip(table.chunks, terms_of, strict=True):
                for term, tf in Counter(terms).items():
                    copy.write_row((term, c.chunk_id, tf, lexical_length(terms)))
    ids = [c.chunk_id for c in table.chunks]
    conn.execute(
        """INSERT INTO rag_terms (term, df)
           SELECT term, count(*) FROM rag_postings WHERE chunk_id = ANY(%s) GROUP BY term
           ON CONFLICT (term) DO UPDATE SET df = rag_terms.df + excluded.df""",
        (ids,),
    )
    total = sum(lexical_length(terms) for terms in terms_of)
    conn.execute("UPDATE rag_state SET chunks = chunks + %s, total_length = total_length + %s", (len(ids), total))


def delete_document(conn: psycopg.Connection[Any], doc_id: str) -> int:
    """Remove a document and everything derived from it; the number of chunks removed."""
    conn.execute(
        """UPDATE rag_terms t SET df = t.df - d.n
           FROM (SELECT p.term, count(*) AS n FROM rag_postings p JOIN rag_chunks c USING (chunk_id)
                 WHERE c.doc_id = %s GROUP BY p.term) d
           WHERE t.term = d.term""",
        (doc_id,),
    )
    conn.execute("DELETE FROM rag_terms WHERE df = 0")
    row = conn.execute("SELECT count(*), coalesce(sum(length), 0) FROM rag_chunks WHERE doc_id = %s", (doc_id,))
    counted = row.fetchone()
    assert counted is not None
    conn.execute(
        "UPDATE rag_state SET chunks = chunks - %s, total_length = total_length - %s", (counted[0], counted[1])
    )
    conn.execute("DELETE FROM rag_postings WHERE chunk_id IN (SELECT chunk_id FROM rag_chunks WHERE doc_id = %s)",
                 (doc_id,))  # fmt: skip
    conn.execute("DELETE FROM rag_documents WHERE doc_id = %s", (doc_id,))  # cascades to the other derived rows
    return int(counted[0])


def bump_generation(conn: psycopg.Connection[Any], settings: dict[str, Any] | None = None) -> int:
    """Mark a change (inside the writer's transaction) and tell listeners once it commits."""
    if settings is None:
        row = conn.execute(
            "UPDATE rag_state SET generation = generation + 1, updated_at = now() RETURNING generation"
        ).fetchone()
    else:
        row = conn.execute(
            "UPDATE rag_state SET generation = generation + 1, updated_at = now(), settings = %s RETURNING generation",
            (Jsonb(settings),),
        ).fetchone()
    assert row is not None
    conn.execute(sql.SQL("NOTIFY {}, {}").format(sql.Identifier(CHANNEL), sql.Literal(str(row[0]))))
    return int(row[0])


def prepare_vector_column(conn: psycopg.Connection[Any], dim: int) -> None:
    """Empty every table and give the chunk vectors ``dim`` dimensions, without the HNSW index
    (built after the bulk load, which is several times faster than maintaining it row by row)."""
    conn.execute(
        "TRUNCATE rag_documents, rag_sentences, rag_candidates, rag_clauses, rag_chunks, rag_postings, rag_terms"
    )
    conn.execute("UPDATE rag_state SET chunks = 0, total_length = 0")
    conn.execute("DROP INDEX IF EXISTS rag_chunks_hnsw")
    conn.execute(sql.SQL("ALTER TABLE rag_chunks ALTER COLUMN embedding TYPE vector({})").format(sql.Literal(dim)))


def create_vector_index(conn: psycopg.Connection[Any], hnsw_m: int, ef_construction: int) -> None:
    conn.execute("SET LOCAL maintenance_work_mem = '1GB'")  # lets pgvector build the graph in memory
    conn.execute(
        sql.SQL(
            "CREATE INDEX rag_chunks_hnsw ON rag_chunks USING hnsw (embedding vector_ip_ops) "
            "WITH (m = {}, ef_construction = {})"
        ).format(sql.Literal(hnsw_m), sql.Literal(ef_construction))
    )
