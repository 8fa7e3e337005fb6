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
Rules are data (the patterns below); every block's ``[start, end)`` is trimmed of white space.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rag.text.fences import Fences, closes

HEADING, PARAGRAPH, LIST_ITEM, TABLE_ROW, TERM, DEFINITION, CODE = (
    "heading", "paragraph", "list_item", "table_row", "term", "definition", "code",
)  # fmt: skip
PROSE_KINDS = frozenset({PARAGRAPH, LIST_ITEM, DEFINITION})  # blocks that hold running sentences

_ATX = re.compile(r"#{1,6}\s+\S")
_UNDERLINE = re.compile(r"([=\-~^*#\"'`+:._])\1{2,}\s*")
_LIST_MARKER = re.compile(r"(?:[-*+•▪◦]|\d{1,3}[.)]|[a-zA-Z][.)]|\(\w{1,3}\)|#\.)[ \t\u00a0]+(?=\S)")
_NUMBERED_HEADING = re.compile(r"(?:(?:chapter|section|part|appendix)[\s\u00a0]+)?\d+(?:\.\d+)*\.?[\s\u00a0]+\S", re.I)
_TABLE_ROW = re.compile(r"\|.*\|\s*$")
_TABLE_RULE = re.compile(r"[|+]?[\s:=|+-]*-{3,}[\s:=|+-]*$|\+[=+-]+\+\s*$|=+(?:\s+=+)+\s*$")
_DIRECTIVE = re.compile(r"\.\.\s+(?:[\w:-]+::|_[^:]+:|\[[^\]]+\]|\|[^|]+\|)")
_CODE_DIRECTIVE = re.compile(r"\.\.\s+(?:code-block|code|sourcecode|doctest|testcode|literalinclude|highlight)::")
_BOLD = re.compile(r"(\*\*|__)[^*_].*\1", re.S)
_FIELD = re.compile(r":[\w -]+:(?:\s|$)")
_BARE_FIELD = re.compile(r":[\w-]+:")
_LINK_DEFINITION = re.compile(r"\[[^\]]+\]:\s")  # a Markdown link reference: "[95565]: https://..."
# ... the whole line of one, which Markdown does not show: markup, like an rST target
_LINK_REFERENCE = re.compile(_LINK_DEFINITION.pattern + r"\s*<?\S+>?(?:\s+(?:\"[^\"]*\"|'[^']*'|\([^)]*\)))?\s*")
_END_PUNCT = ".!?:;,"


@dataclass(frozen=True)
class Block:
    start: int
    end: int
    kind: str
    indent: int = 0
    heading: int = -1  # index (in the block list) of the section heading this block is under
    level: int = 0  # heading depth when known (1 = top), else 0


@dataclass(frozen=True)
class _Line:
    start: int
    end: int  # without the line break
    text: str

    @property
    def blank(self) -> bool:
        return not self.text.strip(" \t\r\u00a0>")  # a lone ">" is a blank line inside a Markdown quote

    @property
    def indent(self) -> int:
        stripped = self.text.lstrip(" \t\u00a0")
        return len(self.text) - len(stripped)

    @property
    def body(self) -> str:
        return self.text.strip(" \t\u00a0\r")


def _lines(text: str) -> list[_Line]:
    lines: list[_Line] = []
    start = 0
    for piece in text.splitlines(keepends=True):
        body = piece.rstrip("\r\n")
        lines.append(_Line(start, start + len(body), body))
        start += len(piece)
    return lines


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _is_underline(line: _Line, above: _Line | None) -> bool:
    if above is None or above.blank or not _UNDERLINE.fullmatch(line.body):
        return False
    return len(line.body) >= max(3, int(0.6 * len(above.body))) and line.indent <= above.indent


def _looks_like_title(line: _Line, following: _Line | None, wrapped: bool = True) -> bool:
    """A short line of its own before a paragraph, with no final punctuation: a plain-text title.
    In text with one paragraph a line, the next line need not be blank but must be longer."""
    body = line.body
    if not body or body[-1] in _END_PUNCT or len(body.split()) > 12 or _LIST_MARKER.match(body):
        return False
    if body.startswith("-"):  # a command-line option with its description ("-t     sort by time")
        return False
    if following is None or following.blank:
        return True
    return not wrapped and len(following.body) > len(body)


def _after_line_break(above: _Line | None) -> bool:
    """Whether the line above ends in Markdown's hard line break (two spaces, or a backslash): the
    line continues its paragraph, as a field's value does ("Codename:  " over "Pelican"), and is
    no title of its own."""
    return above is not None and not above.blank and above.text.rstrip("\r").endswith(("  ", "\\"))


def hard_wrapped(lines: list[_Line]) -> bool:
    """Whether the text is wrapped at a fixed width (a line break is then only white space), as
    opposed to one paragraph per line: nearly all lines of prose are short (<= 100 characters).
    Decoration (heading underlines, rules), table rows, link definitions (Markdown's, and rST's
    ``.. _name: URL`` targets like every directive line) and lone words (URLs) are as long as they
    need to be, wrapped or not."""
    lengths = [len(line.text) for line in lines if _prose_line(line.body)]
    if not lengths:
        return True
    return sum(length > 100 for length in lengths) <= 0.05 * len(lengths)


def _prose_line(body: str) -> bool:
    return (" " in body and any(c.isalnum() for c in body) and not body.startswith(("|", "+"))
            and not _LINK_DEFINITION.match(body) and not _DIRECTIVE.match(body))  # fmt: skip


def _numbered_heading(body: str) -> bool:
    """``4.1. What kernels does Debian run?`` (possibly wrapped): a numbered title, one sentence."""
    if not _NUMBERED_HEADING.match(body) or len(body.split()) > 25 or body.count("\n") > 2:
        return False
    title = body.split(None, 1)[1] if len(body.split(None, 1)) > 1 else ""
    return not re.search(r"[.!?]\s+\S", title) and not title.endswith((".", ":", ";", ","))


def _title_block(body: str) -> bool:
    """A paragraph that is really a title: numbered, all bold, or a short question of its own
    (an FAQ's entries are titled by their questions, which must not be cited as answers)."""
    bare = body.strip("*_ \t")
    if _numbered_heading(body) or (_BOLD.fullmatch(body) and len(body.split()) <= 30):
        return True
    return bare.endswith("?") and len(bare.split()) <= 30 and body.count("\n") <= 2


def blocks(text: str) -> list[Block]:
    """The document's blocks in order, each a trimmed span of ``text``; markup lines are skipped."""
    lines = _lines(text)
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
            if start < end and current[2] == PARAGRAPH and _title_block(text[start:end]):
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

    def add_heading(line: _Line, level: int) -> None:
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
        if following is not None and _is_underline(following, line) and (
            above is None or above.blank or _UNDERLINE.fullmatch(above.body)
        ):
            add_heading(line, 0)
            underline = i + 1
            continue
        if _UNDERLINE.fullmatch(body) or _TABLE_RULE.match(body):
            close()  # a heading's underline or overline, or a table's rule: markup, not content
            continue
        if _DIRECTIVE.match(body) or (_LINK_REFERENCE.fullmatch(body) and not line.indent):
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
        starts_item = _LIST_MARKER.match(body) is not None
        if current is None and not starts_item and (above is None or above.blank or not wrapped) and _looks_like_title(
            line, following, wrapped
        ) and following is not None and not _FIELD.match(body) and not _after_line_break(above):
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
