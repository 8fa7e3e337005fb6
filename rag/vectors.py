"""The approximate-nearest-neighbour backend, behind a small interface (FAISS here).

Vectors are unit length, so inner product is cosine. Below ``exact_below`` vectors the index
is exact (``IndexFlatIP``); above it, HNSW trades a little recall for speed. Ids are the
chunk ids (``IndexIDMap2``), so rows can be removed or replaced without renumbering.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import faiss
import numpy as np
import numpy.typing as npt

Ids = npt.NDArray[np.int64]
Scores = npt.NDArray[np.float32]


class VectorIndex(Protocol):
    kind: str

    def __len__(self) -> int: ...

    def search(self, queries: npt.NDArray[np.float32], k: int) -> tuple[Scores, Ids]:
        """Top-``k`` inner products and ids per query row; missing hits have id -1."""
        ...

    def add(self, vectors: npt.NDArray[np.float32], ids: Ids) -> None: ...

    def remove(self, ids: Ids) -> None: ...

    def save(self, path: Path) -> None: ...


def index_kind(size: int, exact_below: int) -> str:
    return "flat" if size < exact_below else "hnsw"


class FaissIndex:
    """FAISS inner-product index with external ids."""

    def __init__(self, index: faiss.Index, kind: str) -> None:
        self._index = index
        self.kind = kind

    @classmethod
    def create(cls, dim: int, kind: str, hnsw_m: int = 32, ef_search: int = 128) -> FaissIndex:
        if kind == "flat":
            base: faiss.Index = faiss.IndexFlatIP(dim)
        elif kind == "hnsw":
            base = faiss.IndexHNSWFlat(dim, hnsw_m, faiss.METRIC_INNER_PRODUCT)
            base.hnsw.efSearch = ef_search
            base.hnsw.efConstruction = max(40, 2 * hnsw_m)
        else:
            raise ValueError(f"unknown index kind {kind!r}")
        return cls(faiss.IndexIDMap2(base), kind)

    @classmethod
    def load(cls, path: Path, kind: str) -> FaissIndex:
        return cls(faiss.read_index(str(path)), kind)

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def search(self, queries: npt.NDArray[np.float32], k: int) -> tuple[Scores, Ids]:
        k = max(1, min(k, len(self)))
        scores, ids = self._index.search(np.ascontiguousarray(queries, dtype=np.float32), k)
        return scores, ids

    def add(self, vectors: npt.NDArray[np.float32], ids: Ids) -> None:
        self._index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), ids.astype(np.int64))

    def remove(self, ids: Ids) -> None:
        if self.kind != "flat":
            raise NotImplementedError("HNSW cannot remove vectors; rebuild the index instead")
        self._index.remove_ids(ids.astype(np.int64))  # type: ignore[arg-type]  # SWIG takes arrays

    def save(self, path: Path) -> None:
        faiss.write_index(self._index, str(path))
