"""Ruby's NEWS as ruby3.1-doc ships it: an ri page (RDoc's document tree in Ruby Marshal format),
read in pure Python (no Ruby needed) and written back as Markdown, for ``build.py``.

RDoc's Markdown parser stored some lists twice over (the updated and moved gem lists); each is
kept once.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any


class RObject:
    """A Ruby object, struct or user-marshalled object: its class name and instance variables."""

    def __init__(self, cls: str | None, kind: str = "o") -> None:
        self.cls, self.kind = cls, kind
        self.ivars: dict[str, Any] = {}
        self.data: Any = None


class MarshalReader:
    """Just enough of Ruby's Marshal 4.8 format for RDoc's ri files."""

    def __init__(self, data: bytes) -> None:
        assert data[:2] == b"\x04\x08", "not Ruby Marshal 4.8"
        self.b, self.i = data, 2
        self.symbols: list[str] = []
        self.objects: list[Any] = []

    def byte(self) -> int:
        self.i += 1
        return self.b[self.i - 1]

    def fixnum(self) -> int:
        c = self.byte()
        c = c - 256 if c > 127 else c
        if c == 0:
            return 0
        if c >= 5:
            return c - 5
        if c <= -5:
            return c + 5
        raw = self.b[self.i : self.i + abs(c)]
        self.i += abs(c)
        n = int.from_bytes(raw, "little")
        return n if c > 0 else n - (1 << (8 * -c))

    def raw(self) -> bytes:
        n = self.fixnum()
        self.i += n
        return self.b[self.i - n : self.i]

    def symbol(self) -> str:
        t = chr(self.byte())
        if t == ":":
            self.symbols.append(self.raw().decode("utf-8"))
            return self.symbols[-1]
        if t == ";":
            return self.symbols[self.fixnum()]
        if t == "I":
            name = self.symbol()
            self.ivars()
            return name
        raise ValueError(f"expected a symbol at byte {self.i - 1}, found {t!r}")

    def ivars(self) -> dict[str, Any]:
        return {self.symbol(): self.load() for _ in range(self.fixnum())}

    def keep(self, obj: Any) -> Any:
        self.objects.append(obj)
        return obj

    def load(self) -> Any:
        t = chr(self.byte())
        if t in "0TF":
            return {"0": None, "T": True, "F": False}[t]
        if t == "i":
            return self.fixnum()
        if t in ":;":
            self.i -= 1
            return self.symbol()
        if t == "@":
            return self.objects[self.fixnum()]
        if t == "I":  # an object followed by its instance variables (a string's encoding)
            obj = self.load()
            self.ivars()
            return obj
        if t == '"':
            return self.keep(self.raw().decode("utf-8", errors="replace"))
        if t == "[":
            items = self.keep([])
            items.extend(self.load() for _ in range(self.fixnum()))
            return items
        if t in "{}":
            table = self.keep({})
            for _ in range(self.fixnum()):
                key = self.load()
                table[repr(key) if isinstance(key, (list, dict)) else key] = self.load()
            if t == "}":
                self.load()
            return table
        if t in "oS":  # an object or a Struct: class, then named values
            obj = self.keep(RObject(None, t))
            obj.cls = self.symbol()
            obj.ivars = self.ivars()
            return obj
        if t == "U":  # marshal_dump: class, then one value
            obj = self.keep(RObject(None, t))
            obj.cls = self.symbol()
            obj.data = self.load()
            return obj
        if t in "cm":
            return self.keep(RObject(self.raw().decode(), t))
        if t == "f":
            return self.keep(float(self.raw().decode()))
        if t in "eC":
            self.symbol()
            return self.load()
        raise ValueError(f"unsupported Marshal type {t!r} at byte {self.i - 1}")


def rdoc_inline(text: str) -> str:
    """RDoc's inline markup (as its Markdown parser stored it) back to Markdown."""
    text = re.sub(r"<code>(.*?)</code>", lambda m: f"``{m[1]}``" if "`" in m[1] else f"`{m[1]}`", text)
    text = re.sub(r"\{([^{}]*)\}\[(https?://[^\]\s]*)\]", r"[\1](\2)", text)
    return re.sub(r"(?<![\w*])\*([\w.]+)\*(?![\w*])", r"**\1**", text)


def rdoc_block(node: RObject) -> str:
    """One RDoc::Markup node as Markdown (lists indent their nested blocks by four spaces)."""
    kind = node.cls.rsplit("::", 1)[-1]
    if kind == "Heading":
        return "#" * node.ivars["level"] + " " + rdoc_inline(node.ivars["text"])
    if kind == "Paragraph":
        return rdoc_inline("".join(p if isinstance(p, str) else "\n" for p in node.ivars["@parts"]))
    if kind == "Verbatim":
        language = node.ivars.get("@format")
        body = "".join(node.ivars["@parts"]).rstrip("\n")
        return "```" + (language if isinstance(language, str) else "") + "\n" + body + "\n```"
    if kind == "List":
        rendered = []
        for item in node.ivars["@items"]:
            parts = [rdoc_block(part) for part in item.ivars["@parts"]]
            rendered.append(parts)
        half = len(rendered) // 2
        if rendered and len(rendered) % 2 == 0 and rendered[:half] == rendered[half:]:
            rendered = rendered[:half]  # RDoc's Markdown parser stored these lists twice over
        items = []
        for number, parts in enumerate(rendered, 1):
            mark = "* " if node.ivars["@type"] == "BULLET" else f"{number}. "
            first = mark + (parts[0].replace("\n", "\n" + " " * len(mark)) if parts else "")
            rest = ["\n".join("    " + line if line else line for line in p.split("\n")) for p in parts[1:]]
            items.append("\n\n".join([first, *rest]))
        return "\n\n".join(items)
    if kind == "BlankLine":
        return ""
    if kind == "Rule":
        return "---"
    raise ValueError(f"unexpected RDoc node {node.cls}")


def ruby_news_md(path: Path) -> str:
    """Ruby 3.1.0's NEWS.md as ruby3.1-doc ships it: an ri page (RDoc's document tree in Ruby
    Marshal format), written back as Markdown. Lists that RDoc stored twice are kept once."""
    top = MarshalReader(path.read_bytes()).load()
    document = top.data[-1]
    assert document.cls == "RDoc::Markup::Document", document.cls
    blocks = (rdoc_block(part) for part in document.ivars["@parts"])
    return "\n\n".join(block for block in blocks if block) + "\n"
