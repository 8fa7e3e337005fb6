"""Span choice: the candidate with the highest expected overlap with the right answer, or the span head's.

The scorer's best candidate is not always the best bet: when several overlapping spans score
close together ("2 to 20", "2 to 20 times faster", the clause holding both), the answer most
likely to share words with the right one is the span the probable candidates agree on. This is
minimum-Bayes-risk decoding for token F1: the scores of the ``consensus`` best candidates become
probabilities (a softmax at the logits' own scale), and the chosen span maximises the expected
character-overlap F1 with them. Held out, it lifted answer F1 from .324 to .341 on the gold sets
before the word tagger, and not at all with it (``[answering] consensus_candidates``, 1 by default).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt

from rag.answering.candidates import Proposal
from rag.answering.model import sigmoid
from rag.answering.question import Question
from rag.answering.span_head import HeadSpan, SpanHead
from rag.records import ConsideredAnswer

_TRAILING = ".,;:"  # an answer span ends before the sentence's punctuation


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


# Question kinds (rag.answering.question) whose answer is a clause or more: the head, trained to
# mark one short span, cuts those answers short (held out, F1 why .409 -> .350, definition .556 ->
# .479, how .317 -> .275 with it), so it reads only the others, and never for a list.
LONG_ANSWER_KINDS = frozenset({"reason", "manner", "definition"})


def wants_short_span(question: Question) -> bool:
    return question.kind not in LONG_ANSWER_KINDS and not question.wants_list


def best_sentences(proposals: Sequence[Proposal], logits: npt.NDArray[np.float64], count: int) -> list[Proposal]:
    """The best proposal of each of the ``count`` sentences whose best proposals score highest, best first."""
    best_of_sentence: dict[int, Proposal] = {}
    for i in np.argsort(-logits, kind="stable") if count > 0 else ():
        proposal = proposals[int(i)]
        best_of_sentence.setdefault(proposal.sentence.sentence_id, proposal)
        if len(best_of_sentence) == count:
            break
    return list(best_of_sentence.values())


def read_with_head(head: SpanHead, question: str, proposals: Sequence[Proposal], logits: npt.NDArray[np.float64],
                   text_of: Mapping[str, str], sentences_read: int) -> tuple[Proposal, HeadSpan] | None:  # fmt: skip
    """The span head's answer in the best-scored ``sentences_read`` sentences (best first), as a
    proposal citing its sentence the way the sentence's own proposals do; None when it read nothing."""
    read = best_sentences(proposals, logits, sentences_read)
    span = head.best(question, [p.sentence.text for p in read])
    if span is None or span.margin <= 0.0:  # the head itself finds no answer more likely: keep the reader's
        return None
    sentence = read[span.segment].sentence
    text = text_of[sentence.doc_id]
    start, end = sentence.start + span.start, sentence.start + span.end
    while end > start and (text[end - 1].isspace() or text[end - 1] in _TRAILING):
        end -= 1
    while start < end and text[start].isspace():
        start += 1
    if start == end:
        return None
    # The sentence's first proposal is the whole sentence: its citation leaves out a list marker.
    cited = next((p.cited for p in proposals if p.sentence.sentence_id == sentence.sentence_id), ())
    if len(cited) != 1 or not (cited[0][0] <= start and end <= cited[0][1]):
        cited = ((sentence.start, sentence.end),)
    return Proposal(sentence, ((start, end),), cited, "head", prior=read[span.segment].prior), span


def head_entry(proposal: Proposal, span: HeadSpan, text: str) -> ConsideredAnswer:
    """The span head's answer as ``explain`` shows it, first: its scores against "no answer"."""
    start, end = proposal.parts[0]
    probability = sigmoid(span.margin)
    scores = {"head_score": round(span.score, 4), "head_null": round(span.null, 4)}
    return ConsideredAnswer(text[start:end], proposal.sentence.doc_id, start, end, "head", "", round(probability, 4),
                            scores)  # fmt: skip
