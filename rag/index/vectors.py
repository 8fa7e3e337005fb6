"""The approximate-nearest-neighbour backend, behind a small interface (FAISS here).

Vectors are unit length, so inner product is cosine. Below ``exact_below`` vectors the index
is exact (``IndexFlatIP``); from there on, HNSW trades a little recall for speed. Ids are the
chunk ids (``IndexIDMap2``), so rows can be removed or replaced without renumbering.

Measured on the 2-core target, one query at a time on one thread, with clustered synthetic
384-d vectors (benchmarks/scale.py, REPORT.md): exact search takes ~0.3 ms at 10k vectors
but ~8 ms at 100k (the vectors no longer fit in cache) and ~70 ms at 1M. HNSW (M=32,
efConstruction=80, efSearch=128) answers in ~0.2 ms at 10k, ~0.6 ms at 100k and ~1.1 ms
at 1M with recall@10 of 1.0, 1.0 and 0.97 against the exact result; efSearch=64 halves the
time at 1M but drops recall to ~0.86. Building it is the price: ~30 s per 100k vectors,
~15-25 min at 1M on two cores. So ``[index] exact_below`` is 20,000 chunks (exact search
still ~1 ms there, and exact indexes can drop rows); the manifest records the kind used.

Threads: FAISS parallelises over query rows with OpenMP, and OpenMP's thread count is a
per-thread setting. A single query gains nothing from a team of threads, and on two cores a
team that spins while the embedding model (or another request) wants the CPU can turn a
10 µs search into milliseconds. So a small batch is searched on the calling thread alone,
set on every call because each server worker thread has its own setting.
"""

from __future__ import annotations

import os
from collections.abc import Hashable
from pathlib import Path
from typing import Any, Protocol

import faiss
import numpy as np
import numpy.typing as npt

from rag.caching import LruCache

Ids = npt.NDArray[np.int64]
Scores = npt.NDArray[np.float32]

# Batches up to this many query rows run on the calling thread only (see the module doc).
SINGLE_THREAD_QUERIES = 16
# A filtered search over fewer allowed vectors than this is exact (copying 20k rows and one
# product takes a few ms); over more, HNSW walks with a selector and at least this beam.
EXACT_FILTERED_BELOW = 20_000
FILTERED_EF_SEARCH = 512
_THREADS = max(1, faiss.omp_get_max_threads() or os.cpu_count() or 1)


class NearestVectors(Protocol):
    """What retrieval needs of a vector index: FAISS in memory, or pgvector in a database."""

    kind: str

    def __len__(self) -> int: ...

    def search(self, queries: npt.NDArray[np.float32], k: int, allowed: Ids | None = None) -> tuple[Scores, Ids]:
        """Top-``k`` inner products and ids per query row, among ``allowed`` ids if given;
        missing hits have id -1."""
        ...


class VectorIndex(NearestVectors, Protocol):
    def add(self, vectors: npt.NDArray[np.float32], ids: Ids) -> None: ...

    def remove(self, ids: Ids) -> None: ...

    def save(self, path: Path) -> None: ...


def index_kind(size: int, exact_below: int) -> str:
    """``flat`` (exact) for fewer than ``exact_below`` vectors, else ``hnsw``."""
    return "flat" if size < exact_below else "hnsw"


def ef_construction_for(hnsw_m: int) -> int:
    """HNSW build effort: ``2.5 * M`` (80 at M=32) reaches recall@10 >= 0.95 at 1M (REPORT.md)."""
    return max(40, (5 * hnsw_m) // 2)


class FaissIndex:
    """FAISS inner-product index with external ids."""

    def __init__(self, index: faiss.Index, kind: str) -> None:
        self._index = index
        self.kind = kind

    @classmethod
    def create(
        cls, dim: int, kind: str, hnsw_m: int = 32, ef_search: int = 128, ef_construction: int | None = None
    ) -> FaissIndex:
        if kind == "flat":
            base: faiss.Index = faiss.IndexFlatIP(dim)
        elif kind == "hnsw":
            base = faiss.IndexHNSWFlat(dim, hnsw_m, faiss.METRIC_INNER_PRODUCT)
            base.hnsw.efSearch = ef_search
            base.hnsw.efConstruction = ef_construction or ef_construction_for(hnsw_m)
        else:
            raise ValueError(f"unknown index kind {kind!r}")
        return cls(faiss.IndexIDMap2(base), kind)

    @classmethod
    def from_bytes(cls, data: bytearray, kind: str, ef_search: int | None = None) -> FaissIndex:
        """A saved index from its file's bytes (read once, and checked, by the caller); an HNSW
        index keeps the efSearch it was built with unless given."""
        index = cls(faiss.deserialize_index(np.frombuffer(data, dtype=np.uint8)), kind)
        if ef_search is not None:
            index.set_ef_search(ef_search)
        return index

    def set_ef_search(self, ef_search: int) -> None:
        """HNSW search breadth (recall against speed); no effect on an exact index."""
        hnsw = self._hnsw()
        if hnsw is not None:
            hnsw.efSearch = ef_search

    def _hnsw(self) -> Any:
        """The HNSW graph (``faiss.HNSW``) of an HNSW index, else None."""
        base = faiss.downcast_index(self._index.index) if isinstance(self._index, faiss.IndexIDMap) else self._index
        return base.hnsw if isinstance(base, faiss.IndexHNSW) else None

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def search(self, queries: npt.NDArray[np.float32], k: int, allowed: Ids | None = None) -> tuple[Scores, Ids]:
        """See ``NearestVectors``. Among ``allowed`` ids the search is exact when they are few
        (an HNSW walk that skips most nodes can come back with fewer than ``k``), else HNSW
        with a selector and a wider beam."""
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        if queries.ndim == 1:
            queries = queries.reshape(1, -1)
        if not len(self) or (allowed is not None and not len(allowed)):
            empty = np.full((len(queries), max(1, k)), -1, dtype=np.int64)
            return np.zeros(empty.shape, dtype=np.float32), empty
        k = max(1, min(k, len(self)))
        faiss.omp_set_num_threads(1 if len(queries) <= SINGLE_THREAD_QUERIES else _THREADS)
        if allowed is None:
            scores, ids = self._index.search(queries, k)
            return scores, ids
        allowed = np.ascontiguousarray(allowed, dtype=np.int64)
        hnsw = self._hnsw()
        if hnsw is not None and len(allowed) < EXACT_FILTERED_BELOW:
            return _exact_among(queries, allowed, self._index.reconstruct_batch(allowed), k)
        selector = faiss.IDSelectorBatch(allowed)
        # faiss's bundled type stubs lack the search-parameter classes' keyword arguments.
        params: Any = (
            faiss.SearchParameters(sel=selector)  # type: ignore[call-arg]
            if hnsw is None
            else faiss.SearchParametersHNSW(  # type: ignore[attr-defined]
                sel=selector, efSearch=max(hnsw.efSearch, FILTERED_EF_SEARCH)
            )
        )
        scores, ids = self._index.search(queries, k, params=params)
        return scores, ids

    def add(self, vectors: npt.NDArray[np.float32], ids: Ids) -> None:
        faiss.omp_set_num_threads(_THREADS)  # building is worth every core
        self._index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), ids.astype(np.int64))

    def remove(self, ids: Ids) -> None:
        if self.kind != "flat":
            raise NotImplementedError("HNSW cannot remove vectors; rebuild the index instead")
        self._index.remove_ids(ids.astype(np.int64))  # type: ignore[arg-type]  # SWIG takes arrays

    def reconstruct(self, ids: Ids) -> npt.NDArray[np.float32]:
        """The stored vectors of ``ids`` (``IndexIDMap2`` keeps the id map): an incremental build
        reuses them instead of embedding unchanged documents again."""
        rows = self._index.reconstruct_batch(np.ascontiguousarray(ids, dtype=np.int64))
        return np.asarray(rows, dtype=np.float32)

    def save(self, path: Path) -> None:
        faiss.write_index(self._index, str(path))

    def memory_bytes(self) -> int:
        """Approximate resident size: the vectors plus HNSW's links (4 bytes per neighbour slot)."""
        size = len(self) * self._index.d * 4 + len(self) * 8  # float32 rows + the id map
        hnsw = self._hnsw()
        if hnsw is not None:
            size += int(hnsw.neighbors.size()) * 4 + int(hnsw.levels.size()) * 4 + int(hnsw.offsets.size()) * 8
        return size


def _exact_among(
    queries: npt.NDArray[np.float32], ids: Ids, vectors: npt.NDArray[np.float32], k: int
) -> tuple[Scores, Ids]:
    """Exact top-``k`` of ``queries`` against the rows ``vectors`` (ids ``ids``), padded with -1."""
    products = queries @ np.asarray(vectors, dtype=np.float32).T
    width = min(k, len(ids))
    top = np.argsort(-products, axis=1, kind="stable")[:, :width]
    scores = np.full((len(queries), k), -np.inf, dtype=np.float32)
    found = np.full((len(queries), k), -1, dtype=np.int64)
    scores[:, :width] = np.take_along_axis(products, top, axis=1)
    found[:, :width] = ids[top]
    return scores, found


class VectorCache(LruCache[npt.NDArray[np.float32]]):
    """An LRU map from a key (e.g. index version and normalised question) to a vector. Stored
    vectors are made read-only, so a caller cannot change what later callers get."""

    def put(self, key: Hashable, value: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """Store ``value`` (as a read-only copy) and return the stored array."""
        stored = np.array(value, dtype=np.float32, copy=True)
        stored.flags.writeable = False
        return super().put(key, stored)
