"""A sentence's words, and where a question's candidates sit among them.

``SentenceWords`` are what every question reads of a sentence's words (kept per sentence by
the reader). ``WordLayout`` lays the words of one question's candidate sentences end to end,
each keyed by its sentence's number and its offset, so that one ``searchsorted`` over all the
candidates' parts does what a bisect a part did: which words lie inside a part, and where the
words that echo the question lie around it. ``rag.answering.features`` reads its columns from it.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import numpy.typing as npt

from rag.answering.question import Question, echo_key
from rag.text.normalize import STOPWORDS, fold, stem

Ints = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]
Flags = npt.NDArray[np.bool_]

_WORD = re.compile(r"\w+(?:[-'.]\w+)*")
# A word's key is its sentence's number times this plus its offset: offsets stay far below it
# (a document is at most 20 MiB), so the keys of all the sentences sort together.
_SENTENCE_KEY = 1 << 40
_NONE = np.iinfo(np.int64).max  # no offset: what a minimum over no match gives
_FAR_MATCH = 200.0  # characters: a candidate this far from every echo of the question is "far" (distance 1)


def word_spans(text: str, start: int, end: int) -> list[tuple[int, int, str]]:
    return [(start + m.start(), start + m.end(), m.group()) for m in _WORD.finditer(fold(text[start:end]))]


@dataclass(frozen=True)
class SentenceWords:
    """A sentence's words (sorted spans) with their stems and stop-word flags: the same for
    every question, so the reader keeps them (``Reader.words``), and with them (the cached
    properties) what each question reads of them, made once a sentence, not once a question."""

    starts: list[int]
    ends: list[int]
    words: list[str]
    stems: list[str]
    stop: list[bool]

    @classmethod
    def of(cls, text: str, start: int, end: int) -> SentenceWords:
        spans = word_spans(text, start, end)
        words = [w for _, _, w in spans]
        return cls([a for a, _, _ in spans], [b for _, b, _ in spans], words, [stem(w) for w in words],
                   [w in STOPWORDS for w in words])  # fmt: skip

    @cached_property
    def echo_keys(self) -> tuple[str | None, ...]:
        """Each word's ``echo_key``: the word echoes a question that has the key among its terms."""
        return tuple(echo_key(word) for word in self.words)

    @cached_property
    def content_pairs(self) -> frozenset[tuple[str, str]]:
        """The stems of adjacent content words, in order."""
        return frozenset(itertools.pairwise(s for s, is_stop in zip(self.stems, self.stop, strict=True) if not is_stop))

    @cached_property
    def arrays(self) -> tuple[Ints, Ints, Flags]:
        """The words' starts, ends and content-word flags as arrays."""
        return (np.array(self.starts, dtype=np.int64).reshape(-1), np.array(self.ends, dtype=np.int64).reshape(-1),
                ~np.array(self.stop, dtype=np.bool_).reshape(-1))  # fmt: skip


class WordSpans:
    """The word spans of several sentences (numbered from 0) end to end, each keyed by its
    sentence's number and its offset, so that one ``searchsorted`` finds the words of spans in
    any of the sentences (what a bisect a span did in one sentence's words)."""

    def __init__(self, lengths: Sequence[int], starts: Ints, ends: Ints) -> None:
        """``lengths``: each sentence's word count; ``starts``, ``ends``: the words' spans, in sentence order."""
        self.lengths = np.array(lengths, dtype=np.int64).reshape(-1)
        offsets = np.concatenate(([0], np.cumsum(self.lengths)))
        self.first, self.end = offsets[:-1], offsets[1:]  # sentence i's words: first[i]:end[i]
        self.sentence = np.repeat(np.arange(len(self.lengths), dtype=np.int64), self.lengths)  # each word's
        self.start_keys = starts + self.sentence * _SENTENCE_KEY
        self.end_keys = ends + self.sentence * _SENTENCE_KEY

    def inside(self, sentence: Ints, start: Ints, end: Ints) -> tuple[Ints, Ints]:
        """The words lying wholly inside each span ``[start, end)`` of a sentence, as ranges
        ``lo:hi`` of word numbers (``hi == lo``: none)."""
        lo = self.starting(sentence, start)
        return lo, np.maximum(lo, np.searchsorted(self.end_keys, sentence * _SENTENCE_KEY + end, side="right"))

    def starting(self, sentence: Ints, offset: Ints) -> Ints:
        """The first word of each sentence that starts at or after the offset (its end if none)."""
        return np.searchsorted(self.start_keys, sentence * _SENTENCE_KEY + offset, side="left")


class WordLayout:
    """The words of a question's candidate sentences (numbered from 0) end to end, with which
    of them echo the question."""

    def __init__(self, sentences: Sequence[SentenceWords], q: Question) -> None:
        self.sentences = sentences
        starts, ends, content = (np.concatenate(column) for column in zip(*(w.arrays for w in sentences), strict=True))
        self.spans = WordSpans([len(w.starts) for w in sentences], starts, ends)
        self.lengths = self.spans.lengths
        keys = (key for w in sentences for key in w.echo_keys)
        echo = np.fromiter((q.echoed_by(key) for key in keys), dtype=np.bool_, count=len(starts))
        self.content_before = np.concatenate(([0], np.cumsum(content)))
        self.echoes_before = np.concatenate(([0], np.cumsum(echo & content)))
        # Every echoing word counts as a match, a stop word too ("it's": the key of "it"), as before.
        matched = np.flatnonzero(echo)
        self.matched_sentence = self.spans.sentence[matched]
        self.matched_start, self.matched_end = starts[matched], ends[matched]

    def counts(self, sentence: Ints, start: Ints, end: Ints) -> tuple[Ints, Ints, Ints]:
        """Words, content words and content words echoing the question that lie wholly inside each
        span ``[start, end)`` of a sentence (none for a span outside it)."""
        lo, hi = self.spans.inside(sentence, start, end)
        content, echoes = self.content_before, self.echoes_before
        return hi - lo, content[hi] - content[lo], echoes[hi] - echoes[lo]

    def matches(self, sentence: Ints, start: Ints, end: Ints) -> tuple[Floats, Flags, Flags, Flags]:
        """For each candidate ``[start, end)`` of a sentence: its distance to the nearest echo of the
        question (a share of ``_FAR_MATCH``, 1 without one), whether it starts after the first echo's
        end, after the last one's, and at most 12 characters after the nearest echo before it."""
        same = self.matched_sentence[None, :] == sentence[:, None]
        found = same.any(axis=1)
        matched_start, matched_end = self.matched_start[None, :], self.matched_end[None, :]
        gap = np.maximum(np.maximum(matched_start - end[:, None], start[:, None] - matched_end), 0)
        nearest = np.where(same, gap, _NONE).min(axis=1, initial=_NONE)
        distance = np.where(found, np.minimum(1.0, nearest / _FAR_MATCH), 1.0)
        first_end = np.where(same, matched_end, _NONE).min(axis=1, initial=_NONE)
        last_end = np.where(same, matched_end, -1).max(axis=1, initial=-1)
        earlier = same & (matched_end <= start[:, None])
        previous_end = np.where(earlier, matched_end, -1).max(axis=1, initial=-1)
        adjacent = earlier.any(axis=1) & (start - previous_end <= 12)
        return distance, found & (start >= first_end), found & (start >= last_end), adjacent

    def beside(self, stems: frozenset[str], sentence: Ints, start: Ints, end: Ints) -> Flags:
        """Whether one of the two words before a candidate ``[start, end)``, or of the two from its
        end on, has one of ``stems``, within the candidate's sentence."""
        flagged = np.fromiter((s in stems for w in self.sentences for s in w.stems), dtype=np.bool_)
        first, last = self.spans.starting(sentence, start), self.spans.starting(sentence, end)
        lo, hi = self.spans.first[sentence], self.spans.end[sentence]
        padded = np.concatenate(([False, False], flagged, [False, False]))  # index i + 2 is word i
        found = np.zeros(len(sentence), dtype=np.bool_)
        for i in (first - 2, first - 1):
            found |= (i >= lo) & padded[i + 2]
        for i in (last, last + 1):
            found |= (i < hi) & padded[i + 2]
        return found
