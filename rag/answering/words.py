"""Which words of a sentence are the answer: a small tagger over general word features.

The span scorer weighs whole candidates; this stage looks at single words, where a fitted
model can learn how an answer sits against the question's words ("*Territory* remains the
single most contentious issue ..." answers "What is the single most contentious issue?": the
words before the echo, in the clause that echoes). For every word of a candidate sentence it
reads what a reader would on any document: whether the word repeats the question and how far
it is from the words that do (on either side), whether its clause is the one that matches the
question, its shape (capitalised, a number, an identifier, quoted), the punctuation around it,
its neighbours, the question's kind, and which linguistic candidates hold it. A network with
one hidden layer, fitted by ``rag fit`` on the words of the gold answers' sentences, gives each
word a probability of being in the answer; a candidate gets two features from them
(``CANDIDATE_FEATURES``): the mean probability of its words and its share of the sentence's.
"""

from __future__ import annotations

import itertools
import re
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from rag.answering.candidates import Proposal
from rag.answering.question import ANSWER_TYPES, Question, echo_key

QUESTION_KINDS = (*(kind for kind, _, _ in ANSWER_TYPES), "yes_no", "other")
HOLDING_KINDS = ("entity", "subject", "object", "complement", "oblique", "apposition", "noun_phrase", "literal",
                 "focus")  # fmt: skip
_SHAPE = ("stop", "capitalised", "digit", "identifier", "marked", "letters", "position", "sentence_words",
          "punctuation_before", "punctuation_after")  # fmt: skip
_NEIGHBOUR = ("echo", "stop", "capitalised", "digit")
WORD_FEATURES: tuple[str, ...] = (
    *_SHAPE, "echo", "words_since_echo", "words_to_echo", "echoes_before", "in_best_clause", "clause_echo_share",
    "clause_words", "type_noun_before", "type_noun_after", "wants_list",
    *(f"question_{kind}" for kind in QUESTION_KINDS),
    *(f"{side}_{name}" for side in ("before2", "before1", "after1", "after2") for name in _NEIGHBOUR),
    *(f"in_{kind}" for kind in HOLDING_KINDS), "in_fitting_entity", "in_argument_of_question_word",
)  # fmt: skip
CANDIDATE_FEATURES = ("answer_words_mean", "answer_words_share")
_COLUMN = {name: i for i, name in enumerate(WORD_FEATURES)}
_NEIGHBOUR_SOURCE = [_COLUMN[name] for name in _NEIGHBOUR]
# Clause breaks for the word features: a little wider than rag.text.segment's (also commas before
# a conjunction or a relative pronoun), since here they only say which words belong together.
_CLAUSE_BREAK = re.compile(r"^[^\w]*[;:()\u2014\u2013]|^\s-\s|^,\s+(?:and|but|or|while|which|where|so)\b")
_IDENTIFIER = re.compile(r"[_./]")
_MARKED = re.compile(r"[`*\"']")
_OPENS = re.compile(r"[,;:(]")
_CLOSES = re.compile(r"[,;:.)]")
_FAR = 20  # word distances are capped here


@dataclass(frozen=True)
class SentenceShape:
    """What a sentence's words look like whatever the question: kept per sentence by the reader."""

    starts: tuple[int, ...]
    ends: tuple[int, ...]
    words: tuple[str, ...]  # folded, as the question's echoes are checked
    stop: npt.NDArray[np.bool_]
    stems: tuple[str, ...]
    echo_keys: tuple[str, ...]  # what ``Question.echoed_by`` looks up for each word ("" never echoes)
    clause: npt.NDArray[np.int64]  # each word's clause, numbered from 0
    rows: npt.NDArray[np.float32]  # the _SHAPE columns

    @classmethod
    def of(cls, text: str, starts: Sequence[int], ends: Sequence[int], words: Sequence[str],
           stems: Sequence[str], stop: Sequence[bool]) -> SentenceShape:  # fmt: skip
        n = len(words)
        rows = np.zeros((n, len(_SHAPE)), dtype=np.float32)
        clause = np.zeros(n, dtype=np.int64)
        for i in range(n):
            raw = text[starts[i] : ends[i]]
            before = text[ends[i - 1] : starts[i]] if i else ""
            after = text[ends[i] : starts[i + 1]] if i + 1 < n else ""
            # A break is read in the gap and the word after it: ", and" ends a clause before "and".
            clause[i] = clause[i - 1] + bool(_CLAUSE_BREAK.search(before + raw)) if i else 0
            rows[i] = (stop[i], raw[:1].isupper(), any(c.isdigit() for c in raw), bool(_IDENTIFIER.search(raw)),
                       bool(_MARKED.search(before + after)), min(len(raw), _FAR), i / n, min(n, 100),
                       bool(_OPENS.search(before)), bool(_CLOSES.search(after)))  # fmt: skip
        keys = tuple(echo_key(word) or "" for word in words)
        return cls(tuple(starts), tuple(ends), tuple(words),
                   np.asarray(stop, dtype=np.bool_), tuple(stems), keys, clause, rows)  # fmt: skip

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The words lying wholly inside ``[start, end)``, as a range of word indexes."""
        return bisect_left(self.starts, start), bisect_right(self.ends, end)


@dataclass(frozen=True)
class WordTable:
    """One sentence's words for one question: their offsets and ``WORD_FEATURES`` rows."""

    shape: SentenceShape
    rows: npt.NDArray[np.float32]


def word_tables(q: Question, shapes: Sequence[SentenceShape],
                holders: Sequence[Sequence[tuple[Proposal, bool, bool]]]) -> list[WordTable]:  # fmt: skip
    """The word rows of sentences (with words) for ``q``; each sentence's ``holders`` are its
    candidates with whether each is an entity of a fitting type and whether it depends on a
    question word. All sentences are computed together, each word seeing only its own sentence:
    one sentence at a time cost 30 numpy calls a sentence."""
    if not shapes:
        return []
    lengths = np.array([len(shape.words) for shape in shapes], dtype=np.int64)
    offsets = np.concatenate(([0], np.cumsum(lengths)))
    n = int(offsets[-1])
    sentence = np.repeat(np.arange(len(shapes)), lengths)
    index = np.arange(n)
    first, end = offsets[:-1][sentence], offsets[1:][sentence]  # each word's sentence: [first, end)
    rows = np.zeros((n, len(WORD_FEATURES)), dtype=np.float32)
    rows[:, : len(_SHAPE)] = np.vstack([shape.rows for shape in shapes])
    stop = np.concatenate([shape.stop for shape in shapes])
    # Question.echoed_by, one call a word (each word's key is made once per sentence).
    keys = (key for shape in shapes for key in shape.echo_keys)
    echo = np.fromiter((q.echoed_by(key) for key in keys), dtype=np.bool_, count=n) & ~stop
    last_echo = np.maximum.accumulate(np.where(echo, index, -1))
    next_echo = np.minimum.accumulate(np.where(echo, index, n)[::-1])[::-1]
    echoes = np.concatenate(([0], np.cumsum(echo)))
    total = np.maximum(1, echoes[end] - echoes[first])
    clause_base = np.concatenate(([0], np.cumsum([int(shape.clause[-1]) + 1 for shape in shapes])))
    clause = np.concatenate([shape.clause for shape in shapes]) + clause_base[:-1][sentence]
    clause_echo = np.bincount(clause, weights=echo, minlength=int(clause_base[-1]))
    best_clause = np.array([a + int(np.argmax(clause_echo[a:b])) for a, b in itertools.pairwise(clause_base)])
    rows[:, _COLUMN["echo"]] = echo
    rows[:, _COLUMN["words_since_echo"]] = np.where(last_echo >= first, np.minimum(index - last_echo, _FAR), _FAR)
    rows[:, _COLUMN["words_to_echo"]] = np.where(next_echo < end, np.minimum(next_echo - index, _FAR), _FAR)
    rows[:, _COLUMN["echoes_before"]] = (echoes[index + 1] - echoes[first]) / total
    rows[:, _COLUMN["in_best_clause"]] = clause == best_clause[sentence]
    rows[:, _COLUMN["clause_echo_share"]] = clause_echo[clause] / total
    rows[:, _COLUMN["clause_words"]] = np.bincount(clause, minlength=len(clause_echo))[clause]
    if q.type_nouns:
        typed = np.fromiter((s in q.type_nouns for shape in shapes for s in shape.stems), dtype=np.bool_, count=n)
        rows[:, _COLUMN["type_noun_before"]] = _shifted(typed, 1, index, first, end)
        rows[:, _COLUMN["type_noun_after"]] = _shifted(typed, -1, index, first, end)
    rows[:, _COLUMN["wants_list"]] = q.wants_list
    rows[:, _COLUMN[f"question_{q.kind}"]] = 1.0
    source = rows[:, _NEIGHBOUR_SOURCE]
    for side, shift in (("before2", 2), ("before1", 1), ("after1", -1), ("after2", -2)):
        column = _COLUMN[f"{side}_echo"]
        rows[:, column : column + len(_NEIGHBOUR)] = _shifted(source, shift, index, first, end)
    for base, shape, held in zip(offsets, shapes, holders, strict=False):
        for proposal, fitting, argument in held:
            if proposal.kind not in HOLDING_KINDS:
                continue
            a, b = (base + i for i in shape.span(*proposal.parts[0]))
            rows[a:b, _COLUMN[f"in_{proposal.kind}"]] = 1.0
            if fitting:
                rows[a:b, _COLUMN["in_fitting_entity"]] = 1.0
            if argument:
                rows[a:b, _COLUMN["in_argument_of_question_word"]] = 1.0
    return [WordTable(shape, rows[a:b]) for shape, a, b in zip(shapes, offsets, offsets[1:], strict=False)]


def _shifted(values: npt.NDArray[Any], shift: int, index: npt.NDArray[np.int64], first: npt.NDArray[np.int64],
             end: npt.NDArray[np.int64]) -> npt.NDArray[Any]:  # fmt: skip
    """``values`` of the word ``shift`` places before (negative: after) each word, 0 across a sentence's edge."""
    moved = np.zeros_like(values)
    if shift > 0:
        moved[shift:] = values[:-shift]
    else:
        moved[:shift] = values[-shift:]
    moved[(index - shift < first) | (index - shift >= end)] = 0
    return moved


def candidate_columns(proposals: Sequence[Proposal], tables: dict[int, WordTable],
                      probabilities: dict[int, npt.NDArray[np.float64]]) -> npt.NDArray[np.float32]:  # fmt: skip
    """``CANDIDATE_FEATURES`` of each proposal from its sentence's word probabilities: the mean
    over its words, and its share of the sentence's sum (0 for parts outside the sentence)."""
    columns = np.zeros((len(proposals), len(CANDIDATE_FEATURES)), dtype=np.float32)
    sums = {sid: np.concatenate(([0.0], np.cumsum(p))) for sid, p in probabilities.items()}
    for i, proposal in enumerate(proposals):
        sid = proposal.sentence.sentence_id
        if sid not in tables:
            continue
        shape, cumulative = tables[sid].shape, sums[sid]
        inside, words = 0.0, 0
        for start, end in proposal.parts:
            a, b = shape.span(start, end)
            if b > a:
                inside += cumulative[b] - cumulative[a]
                words += b - a
        if words:
            columns[i] = (inside / words, inside / max(cumulative[-1], 1e-9))
    return columns
