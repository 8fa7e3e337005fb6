"""BM25 over chunks (bm25s), on folded and stemmed terms so typography never blocks a match.

Also exposes inverse document frequencies, which answer extraction uses to weigh how much
of a question a sentence covers. The BM25 model is rebuilt from the chunk texts when the
index loads (fast: bm25s indexes ~100k passages a second); left out: persisting it.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

import bm25s
import numpy as np
import numpy.typing as npt

from rag.text.normalize import content_terms


class LexicalIndex:
    def __init__(self, texts: Sequence[str]) -> None:
        corpus = [content_terms(text) for text in texts]
        self.size = len(corpus)
        self._df: Counter[str] = Counter(term for terms in corpus for term in set(terms))
        self._bm25 = bm25s.BM25()
        if self.size:
            # bm25s cannot index an all-empty corpus; a placeholder term keeps shapes right.
            self._bm25.index([terms or ["\x00"] for terms in corpus], show_progress=False)
        self._vocab = set(self._df)

    def scores(self, query: str, rows: npt.NDArray[np.int64] | None = None) -> npt.NDArray[np.float32]:
        """BM25 score of every chunk, in chunk order; only ``rows`` (if given) may score above 0."""
        terms = [t for t in content_terms(query) if t in self._vocab]
        if not terms or not self.size:
            return np.zeros(self.size, dtype=np.float32)
        scores = np.asarray(self._bm25.get_scores(terms), dtype=np.float32)
        if rows is not None:
            kept = np.zeros(self.size, dtype=np.float32)
            kept[rows] = scores[rows]
            return kept
        return scores

    def idf(self, term: str) -> float:
        """Robertson-Sparck Jones idf; unseen terms get the highest value."""
        df = self._df.get(term, 0)
        return math.log(1 + (self.size - df + 0.5) / (df + 0.5))

    def known(self, term: str) -> bool:
        return term in self._vocab
