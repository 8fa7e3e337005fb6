"""The ranking model ``rag fit`` learns from pairs: a pair's weight counts as that many copies of it."""

from __future__ import annotations

import numpy as np

from rag.eval.linear import pairwise


def test_a_pair_weighted_twice_counts_as_two_copies() -> None:
    rng = np.random.default_rng(0)
    pairs = list(rng.normal(size=(40, 3)) + np.array([1.0, 0.0, -0.5]))
    scale, names = np.ones(3), ("a", "b", "c")
    weighted = pairwise(pairs, names, scale, 1.0, [2.0] + [1.0] * (len(pairs) - 1))
    copied = pairwise([pairs[0], *pairs], names, scale, 1.0)
    plain = pairwise(pairs, names, scale, 1.0)
    assert np.allclose(weighted.coef, copied.coef, atol=1e-4)
    assert not np.allclose(weighted.coef, plain.coef, atol=1e-4)
