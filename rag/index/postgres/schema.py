"""Versioned schema migrations for the PostgreSQL store, applied by ``rag db upgrade``.

Each migration is a numbered list of statements run in one transaction together with its row
in ``rag_schema_migrations``, so a migration is applied entirely or not at all. A session
advisory lock keeps two processes (say, two replicas starting at once) from applying the
same migration twice. Never edit a released migration: add the next number.

Offsets (``start_at``, ``end_at``) are code points, like Python ``str`` indices and like
PostgreSQL's ``substr`` on a UTF-8 database, so ``substr(text, start_at + 1, end_at - start_at)``
is the cited quote. The vector column gets its dimension (and the HNSW index) from the
first build, because the dimension is the model's (``rag.index.postgres.tables``).
"""

from __future__ import annotations

from typing import Any

import psycopg

MIGRATIONS_LOCK = 7_301_701  # an arbitrary advisory-lock key owned by this module

MIGRATIONS: list[tuple[int, str, list[str]]] = [
    (
        1,
        "documents, spans, vectors and the lexical index",
        [
            "CREATE EXTENSION IF NOT EXISTS vector",
            """CREATE TABLE rag_state (
                singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
                generation bigint NOT NULL DEFAULT 0,
                settings jsonb,
                chunks bigint NOT NULL DEFAULT 0,
                total_length bigint NOT NULL DEFAULT 0,
                updated_at timestamptz NOT NULL DEFAULT now()
            )""",
            "INSERT INTO rag_state DEFAULT VALUES",
            """CREATE TABLE rag_documents (
                doc_id text PRIMARY KEY,
                collection text NOT NULL DEFAULT 'default',
                title text NOT NULL,
                path text NOT NULL,
                sha256 text NOT NULL,
                text text NOT NULL,
                metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
                generation bigint NOT NULL
            )""",
            "CREATE INDEX rag_documents_collection ON rag_documents (collection)",
            """CREATE TABLE rag_sentences (
                sentence_id bigint PRIMARY KEY,
                doc_id text NOT NULL REFERENCES rag_documents ON DELETE CASCADE,
                start_at int NOT NULL,
                end_at int NOT NULL,
                text text NOT NULL,
                kind text NOT NULL,
                context bigint NOT NULL,  -- the sentence that titles this one's section, or -1
                embedding vector NOT NULL
            )""",
            "CREATE INDEX rag_sentences_doc ON rag_sentences (doc_id)",
            # Answer candidates from the linguistic analysis at build time (rag.text.linguistics).
            """CREATE TABLE rag_candidates (
                sentence_id bigint NOT NULL REFERENCES rag_sentences ON DELETE CASCADE,
                ordinal int NOT NULL,  -- the analysis's order within the sentence
                start_at int NOT NULL,
                end_at int NOT NULL,
                kind text NOT NULL,
                label text NOT NULL,
                head text NOT NULL
            )""",
            "CREATE INDEX rag_candidates_sentence ON rag_candidates (sentence_id)",
            """CREATE TABLE rag_clauses (
                clause_id bigint PRIMARY KEY,
                sentence_id bigint NOT NULL REFERENCES rag_sentences ON DELETE CASCADE,
                doc_id text NOT NULL REFERENCES rag_documents ON DELETE CASCADE,
                start_at int NOT NULL,
                end_at int NOT NULL,
                text text NOT NULL,
                embedding vector NOT NULL
            )""",
            "CREATE INDEX rag_clauses_doc ON rag_clauses (doc_id)",
            """CREATE TABLE rag_chunks (
                chunk_id bigint PRIMARY KEY,
                doc_id text NOT NULL REFERENCES rag_documents ON DELETE CASCADE,
                start_at int NOT NULL,
                end_at int NOT NULL,
                text text NOT NULL,
                tokens int NOT NULL,
                sentence_ids bigint[] NOT NULL,
                length int NOT NULL,
                embedding vector NOT NULL
            )""",
            "CREATE INDEX rag_chunks_doc ON rag_chunks (doc_id)",
            # The lexical index: postings of folded, stemmed terms (rag.text.normalize.content_terms)
            # and each term's document frequency, kept in step by every write. No foreign key on
            # the postings: a per-row check costs more than the COPY itself (25 rows per chunk);
            # rag.index.postgres.tables.delete_document removes them with their chunks.
            """CREATE TABLE rag_postings (
                term text NOT NULL,
                chunk_id bigint NOT NULL,
                tf int NOT NULL,
                length int NOT NULL,
                PRIMARY KEY (term, chunk_id)
            )""",
            "CREATE INDEX rag_postings_chunk ON rag_postings (chunk_id)",
            "CREATE TABLE rag_terms (term text PRIMARY KEY, df int NOT NULL CHECK (df >= 0))",
        ],
    ),
]
LATEST = MIGRATIONS[-1][0]


def applied_version(conn: psycopg.Connection[Any]) -> int:
    """The highest migration applied (0 for an empty database)."""
    exists = conn.execute("SELECT to_regclass('rag_schema_migrations') IS NOT NULL").fetchone()
    if not exists or not exists[0]:
        return 0
    row = conn.execute("SELECT coalesce(max(version), 0) FROM rag_schema_migrations").fetchone()
    return int(row[0]) if row else 0


def upgrade(conn: psycopg.Connection[Any]) -> list[int]:
    """Apply every migration not yet applied, each in its own transaction; the numbers applied."""
    conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATIONS_LOCK,))
    conn.commit()
    try:
        with conn.transaction():
            conn.execute(
                """CREATE TABLE IF NOT EXISTS rag_schema_migrations (
                    version int PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"""
            )
        done: list[int] = []
        for version, name, statements in MIGRATIONS:
            if version <= applied_version(conn):
                continue
            with conn.transaction():
                for statement in statements:
                    conn.execute(statement)  # type: ignore[arg-type]  # our own constant SQL
                conn.execute("INSERT INTO rag_schema_migrations (version, name) VALUES (%s, %s)", (version, name))
            done.append(version)
        return done
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATIONS_LOCK,))
        conn.commit()
