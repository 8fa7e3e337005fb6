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


# Spans a writer marks as a name or a value: inline code (``x``, `x`, :role:`x`), emphasis (*x*,
# **x**), quotations ("x", “x”) and link texts ([x](url), `x <url>`_). In technical text the answer
# to "which option/file/function ...?" is very often one of them.
_LITERAL = re.compile(
    r"``(?P<code2>[^`\n]+?)``"
    r"|(?::[a-z][\w.+-]*:)?`(?P<code>[^`\n<]+?)(?:\s*<[^>\n]*>)?`_{0,2}"
    r"|(?<![\w*])\*\*(?P<strong>[^*\n]+?)\*\*(?![\w*])"
    r"|(?<![\w*])\*(?P<em>[^*\s][^*\n]*?)\*(?![\w*])"
    r"|(?<!\w)_(?P<under>[^_\s][^_\n]*?)_(?!\w)"
    r'|"(?P<quote>[^"\n]{1,80}?)"|\u201c(?P<curly>[^\u201d\n]{1,80}?)\u201d'
    r"|\[(?P<link>[^\]\n]+?)\]\([^)\s]*\)"
)
# A word built like an identifier or a path: an underscore, a slash, "::" or a dot between word
# characters (SQLITE_BUSY, /var/cache/apt, Acquire::http, os.path.join).
_TECHNICAL = re.compile(r"(?<![\w/.:-])[\w./:~-]*\w(?:_|/|::|\.(?=\w))[\w./:~-]*\w/?(?![\w/])")


def literal_spans(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """The marked-up literals and identifier-like words inside ``[start, end)``, as inner spans."""
    window = text[start:end]
    found: list[tuple[int, int]] = []
    for match in _LITERAL.finditer(window):
        group = next(name for name, value in match.groupdict().items() if value is not None)
        a, b = match.span(group)
        found.append((start + a, start + b))
    for match in _TECHNICAL.finditer(window):
        if match.end() - match.start() >= 4:  # not "e.g" or "i.e"
            found.append((start + match.start(), start + match.end()))
    return sorted(set(found))
