"""Sentences and clauses as offsets into the raw text.

Sentences are found inside the blocks of ``rag.text.structure``: a heading, a table row, a
definition's term and a code block are one sentence each; a paragraph, a list item and a
definition's body are split at ``.``, ``!`` or ``?`` (plus closing quotes or brackets)
followed by white space and a capital, digit or opening quote. Line breaks inside a block
are white space like any other, so a hard-wrapped sentence is one sentence. Initials
(``U.S.``) and the abbreviations in ``ABBREVIATIONS`` do not end a sentence. Each sentence
knows its block's kind and the sentence that titles its section (``context``).

Clauses split a sentence at semicolons, colons and dashes, and at a comma before a
coordinating conjunction ("..., and battles continue") unless the comma ends an item of an
enumeration ("A, B, and C").

``SEGMENTATION_VERSION`` is part of the index fingerprint: bump it when boundaries change.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from rag.text.structure import PROSE_KINDS, blocks

_SENTENCE_END = re.compile(r"""[.!?]+["'”’)\]*_`]*(?=\s+["'“‘(\[*_`]*[A-Z0-9])""")
_INITIALS = re.compile(r"(?:\b[A-Z]\.)+$")
_CLAUSE_BREAK = re.compile(r"\s*(?:;|:(?=\s)|\s[—–-]\s|—)\s*|,\s+(?:and|but|yet|while|whereas)\s+")
SEGMENTATION_VERSION = 12
ABBREVIATIONS = frozenset("e.g i.e etc vs cf al approx fig no mr mrs ms dr prof st jr sr inc ltd co corp".split())
_WORD_BEFORE = re.compile(r"(\w+)\.$")


class Segment(NamedTuple):
    start: int
    end: int
    kind: str  # the block kind of rag.text.structure
    context: int  # index in the segment list of the sentence titling this one's section, or -1


def segments(text: str) -> list[Segment]:
    """Every sentence of ``text`` with its block kind and section title, in order."""
    found: list[Segment] = []
    first_of_block: dict[int, int] = {}
    for number, block in enumerate(blocks(text)):
        first_of_block[number] = len(found)
        context = first_of_block.get(block.heading, -1) if block.heading >= 0 else -1
        spans = _sentences_in(text, block.start, block.end) if block.kind in PROSE_KINDS else [(block.start, block.end)]
        found += [Segment(a, b, block.kind, context) for a, b in spans]
    return found


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """``[start, end)`` of each sentence, trimmed of surrounding white space, in order."""
    return [(s.start, s.end) for s in segments(text)]


def _sentences_in(text: str, block_start: int, block_end: int) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    start = block_start
    for match in _SENTENCE_END.finditer(text, block_start, block_end):
        end = match.end()
        if match.group().startswith(".") and _abbreviation(text[start : match.start() + 1]):
            continue
        _append_trimmed(text, start, end, spans)
        start = end
    _append_trimmed(text, start, block_end, spans)
    return spans


def _abbreviation(before: str) -> bool:
    """Whether the full stop ending ``before`` belongs to initials or a known abbreviation."""
    if _INITIALS.search(before):
        return True
    word = _WORD_BEFORE.search(before)
    return word is not None and word.group(1).lower() in ABBREVIATIONS


def clause_spans(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """The clauses of the sentence ``text[start:end]``, as absolute trimmed spans."""
    spans: list[tuple[int, int]] = []
    cursor = start
    for match in _CLAUSE_BREAK.finditer(text, start, end):
        if match.group().startswith(",") and "," in text[cursor : match.start()]:
            continue  # the last comma of an enumeration, not a break between clauses
        _append_trimmed(text, cursor, match.start(), spans)
        cursor = match.end()
    _append_trimmed(text, cursor, end, spans)
    return spans


def _append_trimmed(text: str, start: int, end: int, spans: list[tuple[int, int]]) -> None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if start < end:
        spans.append((start, end))
