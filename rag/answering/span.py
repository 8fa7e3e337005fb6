"""Span choice: the candidate with the highest expected overlap with the right answer, or the span head's.

The scorer's best candidate is not always the best bet: when several overlapping spans score
close together ("2 to 20", "2 to 20 times faster", the clause holding both), the answer most
likely to share words with the right one is the span the probable candidates agree on. This is
minimum-Bayes-risk decoding for token F1: the scores of the ``consensus`` best candidates become
probabilities (a softmax at the logits' own scale), and the chosen span maximises the expected
character-overlap F1 with them. Held out, it lifted answer F1 from .324 to .341 on the gold sets
before the word tagger, and not at all with it (``[answering] consensus_candidates``, 1 by default).

With the span head on, the head reads each of the reader's best sentences and the sentence
answered from is the one whose reader score plus ``span_head_weight`` times the head's margin is
highest (held out, the right sentence first for 57.5% of answerable questions against 54.6%).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from rag.answering.candidates import PART_SEPARATOR, Proposal
from rag.answering.model import sigmoid
from rag.answering.question import Question
from rag.answering.span_head import HeadSpan, SpanHead
from rag.records import ConsideredAnswer

_TRAILING = ".,;:"  # an answer span ends before the sentence's punctuation
# Above any margin (best span against "no answer") the shipped heads gave on the gold sets'
# 3,200 best sentences (largest 7.9): a sentence that could not win even with it is not read.
MAX_MARGIN = 10.0


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


def best_of_sentences(logits: npt.NDArray[np.float64], proposals: Sequence[Proposal], count: int) -> list[int]:
    """Indexes of the best proposal of each of the ``count`` best-scored sentences, best first."""
    best_of_sentence: dict[int, int] = {}
    for i in np.argsort(-logits, kind="stable") if count > 0 else ():
        best_of_sentence.setdefault(proposals[int(i)].sentence.sentence_id, int(i))
        if len(best_of_sentence) == count:
            break
    return list(best_of_sentence.values())


def best_sentences(proposals: Sequence[Proposal], logits: npt.NDArray[np.float64], count: int) -> list[Proposal]:
    """The best proposal of each of the ``count`` sentences whose best proposals score highest, best first."""
    return [proposals[i] for i in best_of_sentences(logits, proposals, count)]


@dataclass(frozen=True)
class HeadChoice:
    proposal: Proposal  # the head's span, or the reader's best proposal of the sentence the head preferred
    span: HeadSpan  # what the head found in that sentence
    logit: float  # the reader's score of that sentence's best proposal


@dataclass(frozen=True)
class HeadReading:
    choice: HeadChoice | None  # None: the reader's own choice stands
    margin: float  # the largest margin the head gave among the sentences it read (an abstention feature)


def read_with_head(head: SpanHead, question: str, proposals: Sequence[Proposal], logits: npt.NDArray[np.float64],
                   text_of: Mapping[str, str], sentences_read: int, weight: float,
                   short_span: bool) -> HeadReading | None:  # fmt: skip
    """The head reads each of the reader's ``sentences_read`` best sentences on its own. The sentence
    chosen is the one whose reader score plus ``weight`` times the head's margin (its best span
    against its "no answer") is highest; the answer is the head's span in it when the question
    wants a short span and the head finds one (margin > 0), else the reader's best proposal of that
    sentence (no choice: the reader's own). None when the head read nothing."""
    chosen = best_of_sentences(logits, proposals, sentences_read)
    first = head.best(question, [proposals[chosen[0]].sentence.text]) if chosen else None
    if first is None:
        return None
    # A sentence is read only if it could win with the largest margin a head gives: each read
    # is a MiniLM pass over question and sentence (about 6 ms), and a third of them are saved.
    bar = logits[chosen[0]] + weight * first.margin
    found = {0: first}
    for k, i in enumerate(chosen[1:], start=1):
        if logits[i] + weight * MAX_MARGIN > bar:
            span = head.best(question, [proposals[i].sentence.text])
            if span is None:
                return None
            found[k] = span
    margin = max(span.margin for span in found.values())
    which = max(found, key=lambda k: (logits[chosen[k]] + weight * found[k].margin, -k))
    best, span = proposals[chosen[which]], found[which]
    logit = float(logits[chosen[which]])
    if short_span and span.margin > 0.0:
        located = head_proposal(best, span, proposals, text_of[best.sentence.doc_id])
        if located is not None:
            return HeadReading(HeadChoice(located, span, logit), margin)
    return HeadReading(HeadChoice(best, span, logit) if which else None, margin)


def head_proposal(best: Proposal, span: HeadSpan, proposals: Sequence[Proposal], text: str) -> Proposal | None:
    """The head's span in ``best``'s sentence as a proposal citing the sentence as its own proposals do."""
    sentence = best.sentence
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
    return Proposal(sentence, ((start, end),), cited, "head", prior=best.prior)


def head_entry(choice: HeadChoice, text: str) -> ConsideredAnswer:
    """The span head's choice as ``explain`` shows it, first: its scores against "no answer"."""
    proposal, span = choice.proposal, choice.span
    scores = {"head_score": round(span.score, 4), "head_null": round(span.null, 4),
              "reader_logit": round(choice.logit, 4)}  # fmt: skip
    return ConsideredAnswer(PART_SEPARATOR.join(text[a:b] for a, b in proposal.parts), proposal.sentence.doc_id,
                            proposal.start, proposal.end, proposal.kind, proposal.label,
                            round(sigmoid(span.margin), 4), scores)  # fmt: skip
