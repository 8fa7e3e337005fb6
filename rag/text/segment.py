"""Sentence and clause boundaries as offsets into the raw text.

A rule-based splitter: a sentence ends at ``.``, ``!`` or ``?`` (plus closing quotes or
brackets) followed by white space and a capital, digit or opening quote, or at a line
break (headlines and list items carry no full stop). Initials such as ``U.S.`` do not end a
sentence. Clauses split a sentence at semicolons, colons and dashes, and at a comma before a
coordinating conjunction ("..., and battles continue") unless the comma ends an item of an
enumeration ("A, B, and C"). Left out: a trained segmenter and abbreviation dictionaries;
news prose does well enough without them.

``SEGMENTATION_VERSION`` is part of the index fingerprint: bump it when boundaries change.
"""

from __future__ import annotations

import re

_SENTENCE_END = re.compile(r"""[.!?]+["'”’)\]]*(?=\s+["'“‘(\[]?[A-Z0-9])|\n+""")
_INITIALS = re.compile(r"(?:\b[A-Z]\.)+$")
_CLAUSE_BREAK = re.compile(r"\s*(?:;|:(?=\s)|\s[—–-]\s|—)\s*|,\s+(?:and|but|yet|while|whereas)\s+")
SEGMENTATION_VERSION = 2


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """``[start, end)`` of each sentence, trimmed of surrounding white space, in order."""
    spans: list[tuple[int, int]] = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        end = match.end()
        if match.group().startswith(".") and _INITIALS.search(text[start : match.start() + 1]):
            continue
        _append_trimmed(text, start, end, spans)
        start = end
    _append_trimmed(text, start, len(text), spans)
    return spans


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
