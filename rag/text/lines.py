"""A document's lines, and what a line looks like on its own: blank, indented, a title, wrapped.

``rag.text.structure`` reads these lines into blocks; the rules here say what one line (with the
lines around it) is, not what block it belongs to. Rules are data: the patterns below.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

UNDERLINE = re.compile(r"([=\-~^*#\"'`+:._])\1{2,}\s*")
LIST_MARKER = re.compile(r"(?:[-*+•▪◦]|\d{1,3}[.)]|[a-zA-Z][.)]|\(\w{1,3}\)|#\.)[ \t\u00a0]+(?=\S)")
DIRECTIVE = re.compile(r"\.\.\s+(?:[\w:-]+::|_[^:]+:|\[[^\]]+\]|\|[^|]+\|)")
LINK_DEFINITION = re.compile(r"\[[^\]]+\]:\s")  # a Markdown link reference: "[95565]: https://..."
_NUMBERED_HEADING = re.compile(r"(?:(?:chapter|section|part|appendix)[\s\u00a0]+)?\d+(?:\.\d+)*\.?[\s\u00a0]+\S", re.I)
_BOLD = re.compile(r"(\*\*|__)[^*_].*\1", re.S)
_END_PUNCT = ".!?:;,"


@dataclass(frozen=True)
class Line:
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


def split_lines(text: str) -> list[Line]:
    lines: list[Line] = []
    start = 0
    for piece in text.splitlines(keepends=True):
        body = piece.rstrip("\r\n")
        lines.append(Line(start, start + len(body), body))
        start += len(piece)
    return lines


def is_underline(line: Line, above: Line | None) -> bool:
    if above is None or above.blank or not UNDERLINE.fullmatch(line.body):
        return False
    return len(line.body) >= max(3, int(0.6 * len(above.body))) and line.indent <= above.indent


def looks_like_title(line: Line, following: Line | None, wrapped: bool = True) -> bool:
    """A short line of its own before a paragraph, with no final punctuation: a plain-text title.
    In text with one paragraph a line, the next line need not be blank but must be longer."""
    body = line.body
    if not body or body[-1] in _END_PUNCT or len(body.split()) > 12 or LIST_MARKER.match(body):
        return False
    if body.startswith("-"):  # a command-line option with its description ("-t     sort by time")
        return False
    if following is None or following.blank:
        return True
    return not wrapped and len(following.body) > len(body)


def after_line_break(above: Line | None) -> bool:
    """Whether the line above ends in Markdown's hard line break (two spaces, or a backslash): the
    line continues its paragraph, as a field's value does ("Codename:  " over "Pelican"), and is
    no title of its own."""
    return above is not None and not above.blank and above.text.rstrip("\r").endswith(("  ", "\\"))


def hard_wrapped(lines: list[Line]) -> bool:
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
            and not LINK_DEFINITION.match(body) and not DIRECTIVE.match(body))  # fmt: skip


def _numbered_heading(body: str) -> bool:
    """``4.1. What kernels does Debian run?`` (possibly wrapped): a numbered title, one sentence."""
    if not _NUMBERED_HEADING.match(body) or len(body.split()) > 25 or body.count("\n") > 2:
        return False
    title = body.split(None, 1)[1] if len(body.split(None, 1)) > 1 else ""
    return not re.search(r"[.!?]\s+\S", title) and not title.endswith((".", ":", ";", ","))


def title_block(body: str) -> bool:
    """A paragraph that is really a title: numbered, all bold, or a short question of its own
    (an FAQ's entries are titled by their questions, which must not be cited as answers)."""
    bare = body.strip("*_ \t")
    if _numbered_heading(body) or (_BOLD.fullmatch(body) and len(body.split()) <= 30):
        return True
    return bare.endswith("?") and len(bare.split()) <= 30 and body.count("\n") <= 2
