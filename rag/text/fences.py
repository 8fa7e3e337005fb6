"""CommonMark's code fences: which lines open one, and which line closes it.

A fence is three or more backticks or tildes. After backticks comes an info string without one
("```python"), so a line of inline code ("```rsyslogd -dn```", as rST files written by Markdown
users have) opens nothing. The closing fence is the same character, at least as long, alone on its
line. A fence that nothing closes is no fence: CommonMark would make the rest of the document code,
and a stray one in an rST file turned a troubleshooting guide's last 6 KB into one code block.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

_OPENING = re.compile(r"(`{3,})[^`]*$|(~{3,})")
_CLOSING = re.compile(r"(`{3,}|~{3,})\s*$")


def closes(body: str, fence: str) -> bool:
    """Whether a line (its ``body``, stripped) closes the code that ``fence`` opened."""
    match = _CLOSING.match(body)
    return match is not None and match.group(1)[0] == fence[0] and len(match.group(1)) >= len(fence)


class Fences:
    """The fences of a document's lines (their stripped ``bodies``)."""

    def __init__(self, bodies: Sequence[str]) -> None:
        self.bodies = bodies
        self.closers = [n for n, body in enumerate(bodies) if _CLOSING.match(body)]

    def opened_at(self, line: int) -> str | None:
        """The fence that line ``line`` opens, or None when it opens none that a later line closes."""
        match = _OPENING.match(self.bodies[line])
        if match is None:
            return None
        fence = match.group(1) or match.group(2)
        return fence if any(n > line and closes(self.bodies[n], fence) for n in self.closers) else None
