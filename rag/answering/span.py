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
Inside it, the head votes on the reader's candidates: each scores its reader score plus
``span_head_vote`` times the head's score for its boundaries (the start score of its first word
piece plus the end score of its last, against "no answer"). The head marks no span of its own:
its start and end scores re-rank the spans the reader proposes, which stay whole words, list
items and clauses.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from rag.answering.candidates import Proposal
from rag.answering.read_ahead import READ_AHEAD
from rag.answering.span_head import HeadSpan, PieceScores, SpanHead

# Margins (best span against "no answer") are capped at MAX_MARGIN, so that a sentence that could
# not win even with it is safely not read, and a question no margin could save is safely refused
# unread, whatever head is loaded. A speed setting more than an accuracy one: 2% of the margins
# the fold heads gave the answerable gold questions' three best sentences are above 5 (largest
# 11.4), and held out a cap of 5 scores as no cap while the article's questions take 1.5 head
# passes instead of 2.0 (eval/EXPERIMENTS.md). Below, margins are not bounded, and neither bound
# needs them to be.
MAX_MARGIN = 5.0


def bounded(margin: float) -> float:
    return min(margin, MAX_MARGIN)


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
    proposal: Proposal  # the reader's candidate of the chosen sentence that scores best with the head's vote
    span: HeadSpan  # the head's best span in that sentence (its margin chose the sentence)
    logit: float  # the reader's score of that candidate
    vote: float  # the head's score for its boundaries, against "no answer"


@dataclass(frozen=True)
class HeadReading:
    choice: HeadChoice
    margin: float  # the largest margin the head gave among the sentences it read (an abstention feature)


def read_with_head(head: SpanHead, question: str, proposals: Sequence[Proposal], logits: npt.NDArray[np.float64],
                   sentences_read: int, weight: float, vote: float,
                   read_ahead: bool = False) -> HeadReading | None:  # fmt: skip
    """The head reads each of the reader's ``sentences_read`` best sentences on its own. The sentence
    chosen is the one whose reader score plus ``weight`` times the head's margin (its best span
    against its "no answer") is highest; the answer is the candidate of that sentence whose reader
    score plus ``vote`` times the head's score for its boundaries is highest. None when the head
    read nothing. With ``read_ahead``, the second sentence's read starts on a spare core while the
    first is read, if the process has nothing else running (``rag.answering.read_ahead``)."""
    chosen = best_of_sentences(logits, proposals, sentences_read)
    if not chosen:
        return None

    def reader(k: int) -> Callable[[], tuple[HeadSpan, PieceScores] | None]:
        return lambda: head.read(question, [proposals[chosen[k]].sentence.text])

    second = READ_AHEAD.start(reader(1)) if read_ahead and len(chosen) > 1 else None
    first = READ_AHEAD.counted(reader(0))
    if first is None:
        return None
    # A sentence is read only if it could win with the capped margin: each read is a MiniLM pass
    # over question and sentence (a few ms), and about half of the second and third are saved.
    bar = logits[chosen[0]] + weight * bounded(first[0].margin)
    found = {0: first}
    for k, i in enumerate(chosen[1:], start=1):
        if logits[i] + weight * MAX_MARGIN > bar:
            read = second() if k == 1 and second is not None else READ_AHEAD.counted(reader(k))
            if read is None:
                return None
            found[k] = read
    margins = {k: bounded(span.margin) for k, (span, _) in found.items()}
    which = max(margins, key=lambda k: (logits[chosen[k]] + weight * margins[k], -k))
    span, pieces = found[which]
    sentence = proposals[chosen[which]].sentence
    members = [i for i, p in enumerate(proposals) if p.sentence.sentence_id == sentence.sentence_id]
    votes = [boundary_vote(pieces, proposals[i], sentence.start) for i in members]
    # A candidate the head cannot score is no better than the sentence's worst one in its eyes
    # (held out, that is what gave lists their best F1: 0.485, against 0.477 with a neutral 0).
    floor = min((v for v in votes if v is not None), default=0.0)
    scored = [(float(logits[i]) + vote * (v if v is not None else floor), -n) for n, (i, v) in
              enumerate(zip(members, votes, strict=True))]  # fmt: skip
    best = max(range(len(members)), key=lambda n: scored[n])
    i, v = members[best], votes[best]
    choice = HeadChoice(proposals[i], span, float(logits[i]), v if v is not None else floor)
    return HeadReading(choice, max(margins.values()))


def boundary_vote(pieces: PieceScores, proposal: Proposal, sentence_start: int) -> float | None:
    """The head's score for a candidate's boundaries; None for a candidate of several parts (a list's
    items: the head was trained to mark one span) or one with no word piece left."""
    if len(proposal.parts) != 1:
        return None
    (start, end), = proposal.parts
    return pieces.span_margin(start - sentence_start, end - sentence_start)
