"""Hybrid retrieval: three rankings of chunks fused by weighted reciprocal rank.

- dense: the question's cosine with each chunk vector (FAISS);
- sentence: the best cosine of the question with any sentence of the chunk, which finds a
  one-sentence fact that a whole chunk's vector dilutes;
- bm25: lexical BM25 on folded, stemmed terms.

Reciprocal rank fusion needs no calibration between rankers, which is why it is the default.
Each passage reports the raw dense and BM25 scores (``None`` when that ranker did not put it
among its candidates). ``mode`` selects ``dense`` (both vector rankers) or ``bm25`` alone.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from rag.config import RetrievalSettings
from rag.index.lexical import LexicalIndex
from rag.index.vectors import NearestVectors, VectorIndex
from rag.records import Chunk, Passage


class Retriever:
    def __init__(
        self,
        chunks: list[Chunk],
        vectors: NearestVectors,
        sentence_vectors: VectorIndex,
        lexical: LexicalIndex,
        settings: RetrievalSettings,
    ) -> None:
        self.chunks = {c.chunk_id: c for c in chunks}
        self._chunks_of_sentence: dict[int, list[int]] = {}
        for chunk in chunks:
            for sid in chunk.sentence_ids:
                self._chunks_of_sentence.setdefault(sid, []).append(chunk.chunk_id)
        self.sentence_vectors = sentence_vectors
        self._order = [c.chunk_id for c in chunks]  # row i of the BM25 scores is chunk _order[i]
        self._rows_of_document: dict[str, list[int]] = {}  # for filtered searches
        for row, chunk in enumerate(chunks):
            self._rows_of_document.setdefault(chunk.doc_id, []).append(row)
        self.vectors = vectors
        self.lexical = lexical
        self.settings = settings

    def dense_ranking(
        self, query_vector: npt.NDArray[np.float32], n: int, allowed: npt.NDArray[np.int64] | None = None
    ) -> dict[int, float]:
        scores, ids = self.vectors.search(query_vector.reshape(1, -1), n, allowed)
        return {int(i): float(s) for s, i in zip(scores[0], ids[0], strict=True) if i >= 0}

    def sentence_ranking(
        self, query_vector: npt.NDArray[np.float32], n: int, allowed: npt.NDArray[np.int64] | None = None
    ) -> dict[int, float]:
        """Chunks ranked by their best-matching sentence (among ``allowed`` sentence ids, if given)."""
        scores, ids = self.sentence_vectors.search(query_vector.reshape(1, -1), 4 * n, allowed)
        best: dict[int, float] = {}
        for score, sid in zip(scores[0], ids[0], strict=True):
            for chunk_id in self._chunks_of_sentence.get(int(sid), []):
                best.setdefault(chunk_id, float(score))  # hits arrive best first
        return dict(list(best.items())[:n])

    def bm25_ranking(self, question: str, n: int, rows: npt.NDArray[np.int64] | None = None) -> dict[int, float]:
        scores = self.lexical.scores(question, rows)
        if not len(scores):
            return {}
        n = min(n, len(scores))
        top = np.argpartition(-scores, n - 1)[:n]
        top = top[np.argsort(-scores[top], kind="stable")]
        return {self._order[i]: float(scores[i]) for i in top if scores[i] > 0}

    def search(
        self,
        question: str,
        query_vector: npt.NDArray[np.float32],
        k: int,
        documents: frozenset[str] | None = None,
    ) -> list[Passage]:
        """The top ``k`` passages, from the chunks of ``documents`` only when given (a filter)."""
        s = self.settings
        rows = chunk_ids = sentence_ids = None
        if documents is not None:
            rows = np.array(sorted(r for d in documents for r in self._rows_of_document.get(d, [])), dtype=np.int64)
            chunk_ids = np.array([self._order[r] for r in rows], dtype=np.int64)
            sentence_ids = np.array(
                sorted({sid for cid in chunk_ids for sid in self.chunks[int(cid)].sentence_ids}), dtype=np.int64
            )
            if not len(rows):
                return []
        dense = self.dense_ranking(query_vector, s.candidates, chunk_ids) if s.mode != "bm25" else {}
        sentence = self.sentence_ranking(query_vector, s.candidates, sentence_ids) if s.mode != "bm25" else {}
        lexical = self.bm25_ranking(question, s.candidates, rows) if s.mode != "dense" else {}
        fused: dict[int, float] = {}
        for ranking, weight in ((dense, s.dense_weight), (sentence, s.sentence_weight), (lexical, s.bm25_weight)):
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
