"""Span choice: the candidate with the highest expected overlap with the right answer.

The scorer's best candidate is not always the best bet: when several overlapping spans score
close together ("2 to 20", "2 to 20 times faster", the clause holding both), the answer most
likely to share words with the right one is the span the probable candidates agree on. This is
minimum-Bayes-risk decoding for token F1: the scores of the ``consensus`` best candidates become
probabilities (a softmax at the logits' own scale), and the chosen span maximises the expected
character-overlap F1 with them. Held out, it lifted answer F1 from .324 to .341 on the gold sets
before the word tagger, and not at all with it (``[answering] consensus_candidates``, 1 by default).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from rag.answering.candidates import Proposal


def choose(logits: npt.NDArray[np.float64], proposals: Sequence[Proposal], consensus: int) -> int:
    """Index of the chosen proposal; ``consensus`` <= 1 takes the best-scored one."""
    best = int(np.argmax(logits))
    if consensus <= 1 or len(logits) < 2:
        return best
    top = np.argsort(-logits)[:consensus]
    start = np.array([proposals[i].start for i in top], dtype=np.float64)
    end = np.array([proposals[i].end for i in top], dtype=np.float64)
    doc = [proposals[i].sentence.doc_id for i in top]
    same_doc = np.array([[a == b for b in doc] for a in doc])
    overlap = np.clip(np.minimum(end[:, None], end[None, :]) - np.maximum(start[:, None], start[None, :]), 0, None)
    length = end - start
    f1 = np.where(same_doc, 2 * overlap / np.maximum(length[:, None] + length[None, :], 1.0), 0.0)
    weights = np.exp(logits[top] - logits[top].max())
    return int(top[int(np.argmax(f1 @ (weights / weights.sum())))])
