"""Hybrid retrieval: three rankings of chunks fused by weighted reciprocal rank.

- dense: the question's cosine with each chunk vector (FAISS);
- sentence: the best cosine of the question with any sentence of the chunk, which finds a
  one-sentence fact that a whole chunk's vector dilutes. Every sentence is scanned while there
  are fewer than ``[index] exact_below``; above, only the sentences of the other rankers'
  candidate chunks are scored, so its cost does not grow with the corpus (bounding it on the 26
  corpus documents' 5,083 sentences costs 0.002 of hit@1 and of token F1:
  ``benchmarks/sentence_bound.py``);
- bm25: lexical BM25 on folded, stemmed terms.

Reciprocal rank fusion needs no calibration between rankers, which is why it is the default. Its
constant (``rrf_k``) is 2, not the 60 of the RRF paper (made for long TREC runs): with 60, a chunk
one ranker puts first and the others miss loses to chunks all three put around tenth; on held-out
documents 2 finds the evidence first 4 points more often (eval/fusion_experiment.py).
Each passage reports the raw dense and BM25 scores (``None`` when that ranker did not put it
among its candidates). ``mode`` selects ``dense`` (both vector rankers) or ``bm25`` alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import numpy.typing as npt

from rag.config import RetrievalSettings
from rag.index.lexical import LexicalIndex
from rag.index.vectors import NearestVectors
from rag.records import Chunk, Passage


class Retriever:
    def __init__(
        self,
        chunks: list[Chunk],
        chunks_by_id: Mapping[int, Chunk],
        vectors: NearestVectors,
        sentence_vectors: npt.NDArray[np.float32],
        lexical: LexicalIndex,
        settings: RetrievalSettings,
        scan_every_sentence: bool = True,
    ) -> None:
        self.chunks = chunks_by_id  # ids are a database's own in PostgreSQL, not rows
        self.sentence_vectors = sentence_vectors
        self.scan_every_sentence = scan_every_sentence
        self._chunks_of_sentence: dict[int, list[int]] = {}
        for chunk in chunks if scan_every_sentence else ():
            for sid in chunk.sentence_ids:
                self._chunks_of_sentence.setdefault(sid, []).append(chunk.chunk_id)
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
        """Chunks ranked by their best-matching sentence, scanning every sentence (among
        ``allowed`` sentence ids, if given)."""
        scores = (self.sentence_vectors if allowed is None else self.sentence_vectors[allowed]) @ query_vector
        top = min(4 * n, len(scores))
        if not top:
            return {}
        best_rows = np.argpartition(-scores, top - 1)[:top]
        best: dict[int, float] = {}
        for row in best_rows[np.argsort(-scores[best_rows], kind="stable")]:
            sid = int(row if allowed is None else allowed[row])
            for chunk_id in self._chunks_of_sentence.get(sid, []):
                best.setdefault(chunk_id, float(scores[row]))  # best first
        return best_first(best, n)

    def sentence_ranking_of(
        self, query_vector: npt.NDArray[np.float32], n: int, chunk_ids: list[int]
    ) -> dict[int, float]:
        """``chunk_ids`` ranked by their best-matching sentence (the other rankers' candidates)."""
        owners = [(cid, sid) for cid in chunk_ids for sid in self.chunks[cid].sentence_ids]
        if not owners:
            return {}
        scores = self.sentence_vectors[[sid for _, sid in owners]] @ query_vector
        best: dict[int, float] = {}
        for (chunk_id, _), score in zip(owners, scores.tolist(), strict=True):
            best[chunk_id] = max(score, best.get(chunk_id, score))
        return best_first(best, n)

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
        rows = chunk_ids = None
        if documents is not None:
            rows = np.array(sorted(r for d in documents for r in self._rows_of_document.get(d, [])), dtype=np.int64)
            chunk_ids = np.array([self._order[r] for r in rows], dtype=np.int64)
            if not len(rows):
                return []
        dense = self.dense_ranking(query_vector, s.candidates, chunk_ids) if s.mode != "bm25" else {}
        lexical = self.bm25_ranking(question, s.candidates, rows) if s.mode != "dense" else {}
        sentence: dict[int, float] = {}
        if s.mode != "bm25" and self.scan_every_sentence:
            sentence_ids = None if chunk_ids is None else np.array(
                sorted({sid for cid in chunk_ids.tolist() for sid in self.chunks[cid].sentence_ids}), dtype=np.int64
            )  # fmt: skip
            sentence = self.sentence_ranking(query_vector, s.candidates, sentence_ids)
        elif s.mode != "bm25":
            sentence = self.sentence_ranking_of(query_vector, s.candidates, list(dict.fromkeys([*dense, *lexical])))
        fused = reciprocal_rank_fusion(
            ((dense, s.dense_weight), (sentence, s.sentence_weight), (lexical, s.bm25_weight)), s.rrf_k
        )
        best = list(fused)[:k]
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


def reciprocal_rank_fusion(rankings: Iterable[tuple[Iterable[int], float]], rrf_k: float) -> dict[int, float]:
    """Each chunk's fused score, best first (ties by chunk id): the sum over the ``rankings``
    (chunk ids best first, each with its weight) of weight / (rrf_k + rank), ranks from 1."""
    fused: dict[int, float] = {}
    for ranking, weight in rankings:
        for rank, chunk_id in enumerate(ranking):  # dicts keep ranking order
            fused[chunk_id] = fused.get(chunk_id, 0.0) + weight / (rrf_k + rank + 1)
    return best_first(fused, len(fused))


def best_first(scores: dict[int, float], n: int) -> dict[int, float]:
    """The ``n`` best chunks, ties by chunk id (overlapping chunks share sentences, hence scores)."""
    return dict(sorted(scores.items(), key=lambda item: (-item[1], item[0]))[:n])
