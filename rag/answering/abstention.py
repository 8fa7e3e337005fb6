"""Abstention: do the sources answer the question? The reader's rule, and the same rule once the span head has read.

The reader's rule is a logistic regression over features of the scored candidates
(``ABSTENTION_FEATURES``). With the span head on, a second one is stacked on it
(``HeadAbstention``): the reader's abstention logit and the head's best margin (its best span
against "no answer") over the sentences it read. ``rag fit`` fits it on margins from heads that
did not see the question's document and logits from reader models that did not either, so both
inputs look as they will on a new document.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from rag.answering.candidates import Proposal
from rag.answering.features import COLUMN
from rag.answering.model import HeadAbstention, sigmoid
from rag.answering.question import Question
from rag.records import Passage

LOWEST_MARGIN = -1e6  # stands for "any margin however low" in the refusal bound (the sigmoid saturates)

# Not "the share of the question's words the corpus knows": it measures the corpus's size as much as
# the question (a one-article corpus knows few words), and held out it refused 37% of the
# article's answerable questions (22.6% without it; AUROC .841 -> .847 over all documents).
ABSTENTION_FEATURES = ("best_logit", "margin", "best_dense", "max_dense", "best_coverage", "max_coverage",
                       "unknown_name", "type_miss", "max_document_coverage", "top_passage_score")  # fmt: skip
HEAD_ABSTENTION_FEATURES = ("abstention_logit", "head_margin")


def abstention_row(question: Question, proposals: Sequence[Proposal], rows: npt.NDArray[np.float32],
                   logits: npt.NDArray[np.float64], passages: Sequence[Passage]) -> npt.NDArray[np.float32]:
    """``ABSTENTION_FEATURES`` of one question: its candidates' feature ``rows`` and scores ``logits``."""
    order = np.argsort(-logits)
    best = int(order[0])
    second = next((int(i) for i in order[1:] if proposals[i].parts != proposals[best].parts), None)
    values = {
        "best_logit": float(logits[best]),
        "margin": float(logits[best] - logits[second]) if second is not None else 5.0,
        "best_dense": float(rows[best, COLUMN["sentence_dense"]]),
        "max_dense": float(rows[:, COLUMN["sentence_dense"]].max()),
        "best_coverage": float(rows[best, COLUMN["sentence_coverage"]]),
        "max_coverage": float(rows[:, COLUMN["sentence_coverage"]].max()),
        "unknown_name": float(bool(question.unknown_names)),
        "type_miss": float(rows[best, COLUMN["type_miss"]]),
        # An off-topic question's words are not all used by any one candidate's document, even when
        # one sentence shares a word with it ("chemical symbol for gold" -> a currency symbol).
        "max_document_coverage": float(rows[:, COLUMN["document_coverage"]].max()),
        "top_passage_score": passages[0].dense_score or 0.0 if passages else 0.0,
    }
    return np.asarray([values[name] for name in ABSTENTION_FEATURES], dtype=np.float32)


def head_confidence(rule: HeadAbstention, abstention_logit: float, head_margin: float) -> float:
    """The probability that the sources answer, once the head has read."""
    row = np.asarray([[abstention_logit, head_margin]], dtype=np.float64)
    return sigmoid(float(rule.model.logits(row)[0]))


def best_head_confidence(rule: HeadAbstention, abstention_logit: float, largest_margin: float) -> float:
    """The highest confidence any head margin up to ``largest_margin`` could give: below the
    threshold, the question is refused without running the head. The rule is linear in the margin,
    so the highest is at the cap, or, for a rule that trusts low margins, at an unbounded low one."""
    return max(head_confidence(rule, abstention_logit, m) for m in (LOWEST_MARGIN, largest_margin))
