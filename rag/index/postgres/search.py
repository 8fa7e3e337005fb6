"""Searching the store in SQL: chunk vectors with pgvector, BM25 from the postings tables.

Dense: ``ORDER BY embedding <#> q`` (negative inner product; vectors are unit length, so this
is cosine). Below ``[index] exact_below`` chunks the index scan is turned off for the query,
so the ranking is exact, as the local store's flat index is; above, pgvector's HNSW answers
with ``hnsw.ef_search = [index] hnsw_ef_search``.

Lexical: the same BM25 as the local store's bm25s (Lucene variant: k1 = 1.5, b = 0.75,
idf = ln(1 + (N - df + 0.5) / (df + 0.5)), an empty chunk counted as length 1, a repeated
query term counted each time) computed over ``rag_postings`` with the document frequencies in
``rag_terms`` and N and the mean length in ``rag_state``. It is the full BM25 over every chunk
that holds a query term, not a rescoring of a shortlist, so its ranking equals the local one.

Both drop ids the caller's in-memory copy does not know yet (a document added since it was
loaded): the engine reloads on the next generation, and until then answers from what it has.

With ``[store] read_dsn`` the searches go to a standby, but only once it has replayed the
primary's WAL up to where the engine's snapshot was loaded (``SearchRoute``); until then they
go to the primary. So the process that made a write, and every replica that has loaded it,
searches rows at least as new as its snapshot: read-your-writes, at the cost of one
``pg_last_wal_replay_lsn()`` in the same round trip on the standby.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import psycopg
from psycopg_pool import ConnectionPool

from rag.index.lexical import LexicalIndex
from rag.index.vectors import EXACT_FILTERED_BELOW, FILTERED_EF_SEARCH, Ids, Scores
from rag.text.normalize import content_terms

BM25_K1 = 1.5  # bm25s's defaults, which the local store uses
BM25_B = 0.75
PGVECTOR_MAX_EF_SEARCH = 1000  # pgvector refuses larger values
Pool = ConnectionPool[psycopg.Connection[Any]]


@dataclass(frozen=True)
class SearchRoute:
    """Where searches go: ``read`` (a standby) once it has replayed ``lsn``, else ``primary``."""

    read: Pool
    primary: Pool
    lsn: str | None = None  # the primary's WAL position when the snapshot was loaded

    def fetch(self, query: str, params: Any, settings: Sequence[tuple[str, Any]] = ()) -> list[tuple[Any, ...]]:
        """The rows of ``query``, run after ``settings`` (statements, parameters) in one transaction."""
        if self.read is not self.primary:
            with self.read.connection() as conn, conn.pipeline(), conn.transaction():
                caught_up = conn.execute(
                    "SELECT %(lsn)s::pg_lsn IS NULL OR coalesce(pg_last_wal_replay_lsn() >= %(lsn)s::pg_lsn, true)",
                    {"lsn": self.lsn},
                ).fetchone()
                if caught_up and caught_up[0]:
                    return _run(conn, query, params, settings)
        with self.primary.connection() as conn, conn.pipeline(), conn.transaction():
            return _run(conn, query, params, settings)


def _run(
    conn: psycopg.Connection[Any], query: str, params: Any, settings: Sequence[tuple[str, Any]]
) -> list[tuple[Any, ...]]:
    for statement, values in settings:
        conn.execute(statement, values)  # type: ignore[arg-type]  # this module's constant SQL
    return conn.execute(query, params).fetchall()  # type: ignore[arg-type]


class PgVectorIndex:
    """Nearest chunk vectors by pgvector, restricted to the chunk ids the caller has loaded."""

    def __init__(self, route: SearchRoute, known: Iterable[int], exact: bool, ef_search: int) -> None:
        self._route = route
        self._known = frozenset(known)
        self._exact = exact
        self._ef_search = ef_search
        self.kind = "pgvector-exact" if exact else "pgvector-hnsw"

    def __len__(self) -> int:
        return len(self._known)

    def search(self, queries: npt.NDArray[np.float32], k: int, allowed: Ids | None = None) -> tuple[Scores, Ids]:
        """Among ``allowed`` chunk ids, exact below ``EXACT_FILTERED_BELOW`` of them; above, HNSW
        with a beam of ``FILTERED_EF_SEARCH`` and the filter applied to what it returns (pgvector
        0.6 filters after the index scan, so the wider beam is what keeps ``k`` results)."""
        queries = np.asarray(queries, dtype=np.float32).reshape(-1, queries.shape[-1])
        width = max(1, k)
        scores = np.zeros((len(queries), width), dtype=np.float32)
        ids = np.full((len(queries), width), -1, dtype=np.int64)
        exact, ef_search = self._exact, max(self._ef_search, k)
        where, subset = "", None
        if allowed is not None:
            subset = [int(i) for i in allowed]
            exact = exact or len(subset) < EXACT_FILTERED_BELOW
            ef_search = max(ef_search, FILTERED_EF_SEARCH)
            where = "WHERE chunk_id = ANY(%s) "
        settings: list[tuple[str, Any]] = [("SELECT set_config('hnsw.ef_search', %s, true)",
                                            (str(min(ef_search, PGVECTOR_MAX_EF_SEARCH)),))]  # fmt: skip
        if exact:
            settings.append(("SET LOCAL enable_indexscan = off", None))
        for row, query in enumerate(queries):
            params = (query, subset, query, width) if subset is not None else (query, query, width)
            hits = self._route.fetch(
                f"SELECT chunk_id, -(embedding <#> %s) FROM rag_chunks {where}ORDER BY embedding <#> %s LIMIT %s",
                params,
                settings,
            )
            found = [(int(cid), float(score)) for cid, score in hits if int(cid) in self._known]
            for col, (cid, score) in enumerate(found):
                ids[row, col], scores[row, col] = cid, score
        return scores, ids


class TableLexicalIndex(LexicalIndex):
    """``LexicalIndex`` whose scores come from the database; idf and vocabulary from a loaded copy
    of ``rag_terms`` (what answer extraction asks per question term, so kept in memory)."""

    def __init__(
        self, route: SearchRoute, chunk_ids: list[int], document_frequency: dict[str, int], limit: int
    ) -> None:
        # The parent's bm25s model is not built: the postings in the database replace it.
        self.size = len(chunk_ids)
        self._df: Counter[str] = Counter(document_frequency)
        self.document_frequency: dict[str, int] = self._df  # what LexicalIndex.idf and known read
        self._vocab = set(document_frequency)
        self._route = route
        self._chunk_ids = chunk_ids
        self._row_of = {cid: row for row, cid in enumerate(chunk_ids)}
        self._limit = limit

    def scores(self, query: str, rows: npt.NDArray[np.int64] | None = None) -> npt.NDArray[np.float32]:
        """BM25 of every loaded chunk, in chunk order (the top ``limit`` filled, the rest 0);
        only ``rows`` (positions in chunk order), if given, are searched."""
        out = np.zeros(self.size, dtype=np.float32)
        weights = Counter(t for t in content_terms(query) if t in self._vocab)
        if not weights or not self.size or (rows is not None and not len(rows)):
            return out
        allowed = None if rows is None else [self._chunk_ids[int(r)] for r in rows]
        hits = self._route.fetch(
            """SELECT p.chunk_id,
                          sum(q.weight * ln(1 + (s.chunks - t.df + 0.5) / (t.df + 0.5))
                              * p.tf / (p.tf + %(k1)s * (1 - %(b)s + %(b)s * p.length
                                                         / (s.total_length::float8 / s.chunks)))) AS score
                   FROM unnest(%(terms)s::text[], %(weights)s::int[]) AS q(term, weight)
                   JOIN rag_terms t ON t.term = q.term
                   JOIN rag_postings p ON p.term = q.term
                   CROSS JOIN rag_state s
                   WHERE s.chunks > 0 AND (%(allowed)s::bigint[] IS NULL OR p.chunk_id = ANY(%(allowed)s))
                   GROUP BY p.chunk_id
                   ORDER BY score DESC, p.chunk_id
                   LIMIT %(limit)s""",
            {
                "k1": BM25_K1,
                "b": BM25_B,
                "terms": list(weights),
                "weights": list(weights.values()),
                "limit": self._limit,
                "allowed": allowed,
            },
        )
        for chunk_id, score in hits:
            row = self._row_of.get(int(chunk_id))
            if row is not None:
                out[row] = score
        return out
