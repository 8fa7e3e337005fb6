"""What ``explain`` shows: the candidates the reader weighed, best first, and the span head's choice."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt

from rag.answering.candidates import Proposal
from rag.answering.features import FEATURES
from rag.answering.model import sigmoid
from rag.answering.span import HeadChoice, bounded
from rag.records import ConsideredAnswer


def reader_entries(proposals: Sequence[Proposal], text_of: Mapping[str, str], rows: npt.NDArray[np.float32],
                   logits: npt.NDArray[np.float64], top: int = 5) -> list[ConsideredAnswer]:  # fmt: skip
    """The ``top`` candidates by the reader's score, with their non-zero features."""
    entries = []
    for i in np.argsort(-logits)[:top]:
        p = proposals[int(i)]
        text = text_of[p.sentence.doc_id]
        entries.append(ConsideredAnswer(
            text=p.answer(text), doc_id=p.sentence.doc_id, start=p.start,
            end=p.end, kind=p.kind, label=p.label, score=round(sigmoid(float(logits[i])), 4),
            features={n: round(float(v), 4) for n, v in zip(FEATURES, rows[i], strict=True) if v},
        ))  # fmt: skip
    return entries


def head_entry(choice: HeadChoice, text: str) -> ConsideredAnswer:
    """The span head's choice as ``explain`` shows it, first: the reader's score, the head's vote and
    its margin for the sentence as the choice weighed it (capped at ``MAX_MARGIN``)."""
    proposal, span = choice.proposal, choice.span
    scores = {"reader_logit": round(choice.logit, 4), "head_vote": round(choice.vote, 4),
              "head_sentence_margin": round(bounded(span.margin), 4)}  # fmt: skip
    return ConsideredAnswer(proposal.answer(text), proposal.sentence.doc_id,
                            proposal.start, proposal.end, proposal.kind, proposal.label,
                            round(sigmoid(choice.logit), 4), scores)  # fmt: skip
