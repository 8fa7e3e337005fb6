"""Text structure as offsets: headings, paragraphs, list items, table rows, definitions, code.

A document is read line by line into blocks. What ends a block is what a reader sees as a
break: a blank line, a heading, a list marker, a table row, a change to a definition's
indented body, or a fence. A line break inside a paragraph is not a break, so hard-wrapped
text (licences, RFC-style notes, help files, e-mail) gives the same blocks as the same text
unwrapped. Markup that is not content (heading underlines, table rules, fences, directive
lines and their options, Markdown link references) belongs to no block, so it is never cited.

Recognised: Markdown (ATX and setext headings, ``-``/``*``/``+``/numbered lists, pipe tables,
fenced code), reStructuredText (underlined and overlined headings, ``::`` literal blocks,
``.. directive::`` lines, grid-table rows, definition lists), and plain text (numbered section
headings such as ``4.1. Title``, short title lines before a paragraph, indented definitions).
Rules are data (the patterns below and in ``rag.text.lines``); every block's ``[start, end)`` is
trimmed of white space.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rag.text.fences import Fences, closes
from rag.text.lines import (
    DIRECTIVE,
    LINK_DEFINITION,
    LIST_MARKER,
    UNDERLINE,
    Line,
    after_line_break,
    hard_wrapped,
    is_underline,
    looks_like_title,
    split_lines,
    title_block,
)

HEADING, PARAGRAPH, LIST_ITEM, TABLE_ROW, TERM, DEFINITION, CODE = (
    "heading", "paragraph", "list_item", "table_row", "term", "definition", "code",
)  # fmt: skip
PROSE_KINDS = frozenset({PARAGRAPH, LIST_ITEM, DEFINITION})  # blocks that hold running sentences

_ATX = re.compile(r"#{1,6}\s+\S")
_TABLE_ROW = re.compile(r"\|.*\|\s*$")
_TABLE_RULE = re.compile(r"[|+]?[\s:=|+-]*-{3,}[\s:=|+-]*$|\+[=+-]+\+\s*$|=+(?:\s+=+)+\s*$")
_CODE_DIRECTIVE = re.compile(r"\.\.\s+(?:code-block|code|sourcecode|doctest|testcode|literalinclude|highlight)::")
_FIELD = re.compile(r":[\w -]+:(?:\s|$)")
_BARE_FIELD = re.compile(r":[\w-]+:")
# A Markdown link reference's whole line, which Markdown does not show: markup, like an rST target
_LINK_REFERENCE = re.compile(LINK_DEFINITION.pattern + r"\s*<?\S+>?(?:\s+(?:\"[^\"]*\"|'[^']*'|\([^)]*\)))?\s*")


@dataclass(frozen=True)
class Block:
    start: int
    end: int
    kind: str
    indent: int = 0
    heading: int = -1  # index (in the block list) of the section heading this block is under
    level: int = 0  # heading depth when known (1 = top), else 0


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def blocks(text: str) -> list[Block]:
    """The document's blocks in order, each a trimmed span of ``text``; markup lines are skipped."""
    lines = split_lines(text)
    found: list[Block] = []
    current: tuple[int, int, str, int] | None = None  # start, end, kind, indent of the open block
    fence: str | None = None
    literal_indent: int | None = None  # inside an rST literal block: lines indented deeper than this
    session = False  # ... that is an interactive session (">>>"), which a blank line ends
    options_under: int | None = None  # after a directive line: its ":option: value" lines, indented deeper
    option_indent: int | None = None
    heading = -1
    term = -1  # the open definition list term, whose indented body follows

    def close() -> None:
        nonlocal current, heading, term
        if current is not None:
            start, end = _trim(text, current[0], current[1])
            if start < end and current[2] == PARAGRAPH and title_block(text[start:end]):
                level = text[start:end].split()[0].rstrip(".").count(".") + 1
                found.append(Block(start, end, HEADING, current[3], heading, level))
                heading = len(found) - 1
            elif start < end:
                # A definition's later paragraphs and lists are about its term, not just the section.
                under_term = term >= 0 and current[3] > found[term].indent and current[2] != TERM
                found.append(Block(start, end, current[2], current[3], term if under_term else heading))
                if current[2] == TERM:
                    term = len(found) - 1
                elif current[3] <= (found[term].indent if term >= 0 else -1):
                    term = -1
            current = None

    def add_heading(line: Line, level: int) -> None:
        nonlocal heading, term
        close()
        term = -1
        body_start = line.start + (len(line.text) - len(line.text.lstrip(" \t#\u00a0")))
        end = line.end - (len(line.text) - len(line.text.rstrip(" \t#\u00a0\r")))
        body_start, end = _trim(text, body_start, end)
        if body_start < end:
            found.append(Block(body_start, end, HEADING, line.indent, heading, level))
            heading = len(found) - 1

    wrapped = hard_wrapped(lines)
    fences = Fences([line.body for line in lines])
    underline = -1  # the line found to underline a heading: markup, even when it looks like a fence (~~~)
    for i, line in enumerate(lines):
        if i == underline:
            continue
        following = lines[i + 1] if i + 1 < len(lines) else None
        above = lines[i - 1] if i else None
        body = line.body
        if not wrapped and fence is None and literal_indent is None and current is not None and (
            current[2] in PROSE_KINDS and line.indent <= current[3]
        ):
            close()  # one paragraph a line: a line break ends the paragraph
        if fence is not None:  # inside fenced code: one code block up to the closing fence
            if closes(body, fence):
                close()
                fence = None
            elif current is None:
                current = (line.start, line.end, CODE, line.indent)
            else:
                current = (current[0], line.end, CODE, current[3])
            continue
        if literal_indent is not None:
            if (line.blank and not session) or (not line.blank and line.indent > literal_indent):
                if not line.blank:
                    current = (line.start, line.end, CODE, line.indent) if current is None else (
                        current[0], line.end, CODE, current[3])  # fmt: skip
                continue
            close()
            literal_indent = None
            session = False
        if options_under is not None:
            if not line.blank and line.indent > options_under and _FIELD.match(body):
                option_indent = line.indent
                continue  # a directive's option (":local:", ":depth: 3"): markup
            if not line.blank and option_indent is not None and line.indent > option_indent:
                continue  # ... and the lines it wraps onto
            options_under = option_indent = None
        if line.blank:
            close()
            continue
        if _BARE_FIELD.fullmatch(body):  # a field with no value (":orphan:"): document metadata
            close()
            continue
        if (opened := fences.opened_at(i)) is not None:
            close()
            fence = opened
            continue
        # A title stands on its own line: a rule under a paragraph's last line does not make it one.
        if following is not None and is_underline(following, line) and (
            above is None or above.blank or UNDERLINE.fullmatch(above.body)
        ):
            add_heading(line, 0)
            underline = i + 1
            continue
        if UNDERLINE.fullmatch(body) or _TABLE_RULE.match(body):
            close()  # a heading's underline or overline, or a table's rule: markup, not content
            continue
        if DIRECTIVE.match(body) or (_LINK_REFERENCE.fullmatch(body) and not line.indent):
            close()
            options_under = line.indent
            if _CODE_DIRECTIVE.match(body):
                literal_indent = line.indent
            continue
        if body.startswith(">>>"):  # an interactive session: code up to the next blank line
            close()
            current = (line.start, line.end, CODE, line.indent)
            literal_indent = line.indent - 1
            session = True
            continue
        if _ATX.match(body):
            add_heading(line, len(body) - len(body.lstrip("#")))
            continue
        if _TABLE_ROW.match(body):
            close()
            current = (line.start, line.end, TABLE_ROW, line.indent)
            close()
            continue
        starts_item = LIST_MARKER.match(body) is not None
        if current is None and not starts_item and (above is None or above.blank or not wrapped) and looks_like_title(
            line, following, wrapped
        ) and following is not None and not _FIELD.match(body) and not after_line_break(above):
            add_heading(line, 0)
            continue
        if starts_item:
            close()
            current = (line.start, line.end, LIST_ITEM, line.indent)
        elif current is None:
            deeper = following is not None and not following.blank and following.indent > line.indent
            kind = TERM if deeper and not body.endswith((".", ":")) and len(body.split()) <= 12 else PARAGRAPH
            current = (line.start, line.end, kind, line.indent)
            if kind == TERM:
                close()
        elif current[2] in (TERM, DEFINITION) or (current[2] == PARAGRAPH and line.indent > current[3] + 1
                                                   and found and found[-1].kind == TERM):  # fmt: skip
            current = (current[0], line.end, DEFINITION, current[3])
        elif current[2] == PARAGRAPH and line.indent > current[3] + 1 and above is not None and not above.blank and (
            above.body.endswith(":")
        ):
            close()
            current = (line.start, line.end, PARAGRAPH, line.indent)
        else:
            current = (current[0], line.end, current[2], current[3])
        if found and found[-1].kind == TERM and current is not None and current[2] == PARAGRAPH:
            current = (current[0], current[1], DEFINITION, current[3])
        if body.endswith("::") and current is not None:  # rST: an indented literal block follows
            close()
            literal_indent = line.indent
    if fence is None and literal_indent is None:
        close()
    else:
        close()
    return found
