"""Filtered vector search in the local store: k results from the allowed ids only, exact when they are few."""

from __future__ import annotations

import numpy as np
import pytest

from rag.index import vectors
from rag.index.vectors import FaissIndex


def _index(kind: str, count: int = 3000, dim: int = 32) -> tuple[FaissIndex, np.ndarray]:
    rng = np.random.default_rng(7)
    data = rng.standard_normal((count, dim)).astype(np.float32)
    data /= np.linalg.norm(data, axis=1, keepdims=True)
    index = FaissIndex.create(dim, kind, hnsw_m=16, ef_search=16)
    index.add(data, np.arange(100, 100 + count, dtype=np.int64))  # ids are not row numbers
    return index, data


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_few_allowed_ids_are_searched_exactly(kind: str) -> None:
    index, data = _index(kind)
    allowed = np.arange(100, 3100, 60, dtype=np.int64)  # 50 ids spread over the graph
    query = data[1234]
    scores, ids = index.search(query, 10, allowed)
    expected = allowed[np.argsort(-(data[allowed - 100] @ query), kind="stable")[:10]]
    assert list(ids[0]) == list(expected)
    assert np.allclose(scores[0], data[expected - 100] @ query, atol=1e-5)


def test_many_allowed_ids_use_the_graph_with_a_selector(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(vectors, "EXACT_FILTERED_BELOW", 10)
    index, data = _index("hnsw")
    allowed = np.arange(100, 3100, 2, dtype=np.int64)  # half of them
    for row in range(0, 3000, 300):
        _, ids = index.search(data[row], 10, allowed)
        assert (ids[0] >= 0).sum() == 10 and set(ids[0]) <= set(allowed)


def test_no_allowed_ids_find_nothing() -> None:
    index, data = _index("flat", count=10)
    _, ids = index.search(data[0], 3, np.array([], dtype=np.int64))
    assert (ids == -1).all()
