"""Hybrid retrieval: dense (FAISS) and BM25 rankings fused by weighted reciprocal rank.

Reciprocal rank fusion needs no score calibration between the two rankers, which is why it
is the default; each passage still reports both raw scores (``None`` when that ranker did
not put it among its candidates). ``mode`` can switch either ranker off.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from rag.config import RetrievalSettings
from rag.lexical import LexicalIndex
from rag.records import Chunk, Passage
from rag.vectors import VectorIndex


class Retriever:
    def __init__(
        self, chunks: list[Chunk], vectors: VectorIndex, lexical: LexicalIndex, settings: RetrievalSettings
    ) -> None:
        self.chunks = {c.chunk_id: c for c in chunks}
        self._order = [c.chunk_id for c in chunks]  # row i of the BM25 scores is chunk _order[i]
        self.vectors = vectors
        self.lexical = lexical
        self.settings = settings

    def dense_ranking(self, query_vector: npt.NDArray[np.float32], n: int) -> dict[int, float]:
        scores, ids = self.vectors.search(query_vector.reshape(1, -1), n)
        return {int(i): float(s) for s, i in zip(scores[0], ids[0], strict=True) if i >= 0}

    def bm25_ranking(self, question: str, n: int) -> dict[int, float]:
        scores = self.lexical.scores(question)
        if not len(scores):
            return {}
        n = min(n, len(scores))
        top = np.argpartition(-scores, n - 1)[:n]
        top = top[np.argsort(-scores[top], kind="stable")]
        return {self._order[i]: float(scores[i]) for i in top if scores[i] > 0}

    def search(self, question: str, query_vector: npt.NDArray[np.float32], k: int) -> list[Passage]:
        s = self.settings
        dense = self.dense_ranking(query_vector, s.candidates) if s.mode != "bm25" else {}
        lexical = self.bm25_ranking(question, s.candidates) if s.mode != "dense" else {}
        fused: dict[int, float] = {}
        for ranking, weight in ((dense, s.dense_weight), (lexical, s.bm25_weight)):
            for rank, chunk_id in enumerate(ranking):  # dicts keep ranking order
                fused[chunk_id] = fused.get(chunk_id, 0.0) + weight / (s.rrf_k + rank + 1)
        best = sorted(fused, key=lambda cid: (-fused[cid], cid))[:k]
        return [self._passage(cid, rank, fused[cid], dense.get(cid), lexical.get(cid)) for rank, cid in enumerate(best)]

    def _passage(self, chunk_id: int, rank: int, score: float, dense: float | None, bm25: float | None) -> Passage:
        chunk = self.chunks[chunk_id]
        return Passage(
            chunk_id=chunk_id,
            doc_id=chunk.doc_id,
            start=chunk.start,
            end=chunk.end,
            text=chunk.text,
            score=round(score, 6),
            dense_score=None if dense is None else round(dense, 6),
            bm25_score=None if bm25 is None else round(bm25, 6),
            rank=rank + 1,
        )
