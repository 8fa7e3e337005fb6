"""Token-sized chunks snapped to sentence boundaries, each knowing its exact span.

A chunk is a run of whole sentences whose text ``doc.text[start:end]`` fits both budgets:
``max_tokens`` tiktoken tokens (the size we choose) and the embedding model's own window in
word pieces (checked with the model's tokenizer, because the model silently truncates
what does not fit). Consecutive chunks share up to ``overlap_tokens`` of whole sentences.
A sentence that alone exceeds a budget is cut at word boundaries (or, for a word longer
than the budget, at characters). Left out: semantic chunking and layout (tables, headings)
awareness.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import tiktoken

from rag.records import Chunk, Document, Sentence
from rag.text.segment import segments

Counter = Callable[[str], int]
_WORD_END = re.compile(r"\S+")


@lru_cache(maxsize=4)
def tiktoken_counter(encoding: str) -> Counter:
    enc = tiktoken.get_encoding(encoding)
    return lambda text: len(enc.encode(text, disallowed_special=()))


@dataclass(frozen=True)
class Chunker:
    """Splits documents into sentences and chunks; ``word_pieces`` is the model's counter."""

    count_tokens: Counter
    max_tokens: int = 128
    overlap_tokens: int = 32
    word_pieces: Counter | None = None
    max_word_pieces: int = 256

    def fits(self, text: str) -> bool:
        if self.count_tokens(text) > self.max_tokens:
            return False
        # Two of the model's window go to the [CLS] and [SEP] tokens.
        return self.word_pieces is None or self.word_pieces(text) <= self.max_word_pieces - 2

    def split(
        self, doc: Document, first_sentence_id: int = 0, first_chunk_id: int = 0
    ) -> tuple[list[Sentence], list[Chunk]]:
        text = doc.text
        sentences: list[Sentence] = []
        first_piece: list[int] = []  # segment index -> sentence id of its first piece
        for segment in segments(text):
            first_piece.append(first_sentence_id + len(sentences))
            context = first_piece[segment.context] if segment.context >= 0 else -1
            for s, e in self._fit_pieces(text, segment.start, segment.end):
                sentence_id = first_sentence_id + len(sentences)
                sentences.append(Sentence(sentence_id, doc.doc_id, s, e, text[s:e], segment.kind, context))
        units = [(s.start, s.end) for s in sentences]
        chunks = [
            self._chunk(doc, sentences[i:j], first_chunk_id + n) for n, (i, j) in enumerate(self._windows(text, units))
        ]
        return sentences, chunks

    def _chunk(self, doc: Document, run: list[Sentence], chunk_id: int) -> Chunk:
        start, end = run[0].start, run[-1].end
        body = doc.text[start:end]
        return Chunk(
            chunk_id=chunk_id,
            doc_id=doc.doc_id,
            start=start,
            end=end,
            text=body,
            tokens=self.count_tokens(body),
            sentence_ids=tuple(s.sentence_id for s in run),
        )

    def _windows(self, text: str, units: list[tuple[int, int]]) -> list[tuple[int, int]]:
        """``[i, j)`` ranges of units: greedy packing, then step back for the overlap."""
        windows: list[tuple[int, int]] = []
        i = 0
        while i < len(units):
            j = i + 1
            while j < len(units) and self.fits(text[units[i][0] : units[j][1]]):
                j += 1
            windows.append((i, j))
            if j == len(units):
                break
            i = self._overlap_start(text, units, i, j)
        return windows

    def _overlap_start(self, text: str, units: list[tuple[int, int]], i: int, j: int) -> int:
        start = j
        while start - 1 > i and self.count_tokens(text[units[start - 1][0] : units[j - 1][1]]) <= self.overlap_tokens:
            start -= 1
        return start

    def _fit_pieces(self, text: str, start: int, end: int) -> list[tuple[int, int]]:
        """The sentence itself if it fits, else consecutive pieces that each fit."""
        if self.fits(text[start:end]):
            return [(start, end)]
        pieces: list[tuple[int, int]] = []
        cursor = start
        while cursor < end:
            cut = self._longest_fit(text, cursor, end)
            pieces.append((cursor, cut))
            cursor = cut
            while cursor < end and text[cursor].isspace():
                cursor += 1
        return pieces

    def _longest_fit(self, text: str, start: int, end: int) -> int:
        """The end of the longest prefix of ``text[start:end]`` that fits: at a word end if one
        fits, else inside the first word (at least one code point).

        Galloping first bounds the cut by the shortest prefix that does not fit, then bisection
        finds it, so the cost follows the length of the piece, not of the sentence or the word:
        cutting a long run without white space stays linear in the run.
        """
        fitting, size = start, max(1, self.max_tokens)
        while True:
            probe = min(end, start + size)
            if not self.fits(text[start:probe]):
                limit = probe  # no cut at or beyond this fits
                break
            if probe == end:
                return end
            fitting, size = probe, size * 2
        word_ends = [
            m.end()
            for m in _WORD_END.finditer(text, start, limit)
            if m.end() < limit or limit == end or text[limit].isspace()  # a word cut off at ``limit`` ends later
        ]
        low, high = 0, len(word_ends)  # how many of the word ends fit, by bisection
        while low < high:
            mid = (low + high + 1) // 2
            low, high = (mid, high) if self.fits(text[start : word_ends[mid - 1]]) else (low, mid - 1)
        if low:
            return word_ends[low - 1]
        low, high = max(start + 1, fitting), limit - 1  # one code point is at most 4 tokens: always allowed
        while low < high:
            mid = (low + high + 1) // 2
            low, high = (mid, high) if self.fits(text[start:mid]) else (low, mid - 1)
        return low
