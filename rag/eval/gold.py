"""Reading a gold file line by line, with errors that name the bad line, and its JSON Schema.

The format is ``GoldItem`` in ``rag.eval.metrics`` (the one definition), plus the optional
per-question ``min_f1`` that the pytest plugin and ``rag eval --baseline`` use. One JSON
object per line; blank lines are skipped. ``gold_schema()`` is generated from these structs,
so the schema in ``docs/gold.schema.json`` cannot say anything the loader does not enforce
(``tests/test_gold_format.py`` checks that the file is current).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import msgspec

from rag.eval.metrics import GoldItem

KINDS_NOTE = "any label; 'unanswerable' marks a question the documents do not answer (no answers, no evidence)"


class GoldLine(GoldItem, frozen=True, forbid_unknown_fields=True):
    """A gold question as written in a file: ``GoldItem`` and an optional F1 floor of its own."""

    min_f1: Annotated[float, msgspec.Meta(ge=0.0, le=1.0)] | None = None


class GoldFileError(ValueError):
    """A gold file that cannot be used; the message names the file and the line."""


def parse_gold_line(text: str, where: str = "line") -> GoldLine:
    """One gold line, checked against the schema and for consistency."""
    try:
        item = msgspec.json.decode(text, type=GoldLine)
    except msgspec.ValidationError as error:
        raise GoldFileError(f"{where}: {error}") from error
    except msgspec.DecodeError as error:
        raise GoldFileError(f"{where}: not valid JSON ({error})") from error
    problems = consistency_problems(item)
    if problems:
        raise GoldFileError(f"{where}: " + "; ".join(problems))
    return item


def consistency_problems(item: GoldItem) -> list[str]:
    """What a line says that the schema alone cannot catch."""
    problems = []
    if not item.id.strip():
        problems.append("`id` is empty")
    if not item.question.strip():
        problems.append("`question` is empty")
    if item.answerable and not item.answers:
        problems.append(f"an answerable question (kind {item.kind!r}) needs at least one answer")
    if not item.answerable and (item.answers or item.evidence):
        problems.append("an unanswerable question has no answers and no evidence")
    for n, evidence in enumerate(item.evidence):
        if not 0 <= evidence.start < evidence.end:
            problems.append(f"evidence[{n}] needs 0 <= start < end (got {evidence.start}, {evidence.end})")
        elif evidence.end - evidence.start != len(evidence.text):
            problems.append(
                f"evidence[{n}] spans {evidence.end - evidence.start} code points but its text has "
                f"{len(evidence.text)} (offsets count Unicode code points, not UTF-16 units or bytes)"
            )
    return problems


def read_gold(path: Path) -> list[GoldLine]:
    """Every question in ``path``; a ``GoldFileError`` names the first bad line and what is wrong."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise GoldFileError(f"cannot read gold file {path}: {error}") from error
    items: list[GoldLine] = []
    seen: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        item = parse_gold_line(line, where=f"{path}:{number}")
        if item.id in seen:
            raise GoldFileError(f"{path}:{number}: id {item.id!r} is already used on line {seen[item.id]}")
        seen[item.id] = number
        items.append(item)
    if not items:
        raise GoldFileError(f"{path} holds no gold questions")
    return items


def gold_schema() -> dict[str, Any]:
    """The JSON Schema of one gold line (draft 2020-12), generated from ``GoldLine``."""
    schema: dict[str, Any] = msgspec.json.schema(GoldLine)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "rag gold question (one JSON object per line of a .jsonl file)"
    return schema


def gold_schema_text() -> str:
    return json.dumps(gold_schema(), indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":  # python -m rag.eval.gold > docs/gold.schema.json
    print(gold_schema_text(), end="")
