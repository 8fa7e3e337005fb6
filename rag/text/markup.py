"""Markup at the edges of a span: what a reader does not count as part of an answer.

Markdown and reStructuredText wrap words in markers (``**bold**``, ``*em*``, ````code````,
``:role:`target```, ``[text](url)``). An answer span is narrowed to the words inside, so
"GPLv2" is cited rather than "GPLv2](COPYING" and ``KeyboardInterrupt`` rather than
``:exc:`KeyboardInterrupt```. Only offsets move: the span stays an exact slice of the text.
"""

from __future__ import annotations

import re

_ROLE = re.compile(r":?[a-z][\w.+-]*:`")  # an rST role such as :exc:` or :func:` (its first colon may be cut)
_LINK_TAIL = re.compile(r"\]\([^)\s]*\)?$|\]\[[^\]]*\]?$")  # "](url)" or "][ref]" closing a Markdown link
_WRAPPERS = ("**", "__", "``", "*", "_", "`", '"', "'")


def strip_markup(text: str, start: int, end: int) -> tuple[int, int]:
    """``[start, end)`` without markup markers at its edges (a span that is only markup is kept)."""
    original = (start, end)
    changed = True
    while changed and start < end:
        changed = False
        span = text[start:end]
        role = _ROLE.match(span)
        if role:
            start += role.end()
            changed = True
            continue
        link = _LINK_TAIL.search(span)
        if link and "[" not in span[: link.start()]:
            end = start + link.start()
            changed = True
            continue
        if span.startswith("[") and "](" in span and span.endswith(")"):
            end = start + span.index("](")
            start += 1
            changed = True
            continue
        for marker in _WRAPPERS:
            inner = span[len(marker) : len(span) - len(marker)]
            if span.startswith(marker) and span.endswith(marker) and inner and marker not in inner:
                start, end = start + len(marker), end - len(marker)
                changed = True
                break
        else:
            if span.endswith("`") and "`" not in span[:-1]:
                end -= 1
                changed = True
            elif (span.startswith("`") and "`" not in span[1:]) or (span.startswith("[") and "]" not in span):
                start += 1
                changed = True
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
    return (start, end) if start < end else original
