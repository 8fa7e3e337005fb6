"""``rag eval``'s tables fit 80 columns, never cut a metric name, and are plain text for a pipe."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from rag.eval.metrics import ROWS, Report
from rag.eval.tables import summary_tables

GROUPS = ["all", "answerable", "unanswerable"] + [
    f"kind:{k}" for k in ("fact", "list", "paraphrase", "how", "why", "definition", "unanswerable")
]


def report() -> Report:
    figures = {row: 0.123456 if row != "questions" else 264.0 for row in ROWS}
    return Report(outcomes=[], summary={group: dict(figures) for group in GROUPS})


@pytest.mark.parametrize("plain", [True, False])
def test_tables_fit_80_columns_with_every_metric_name_whole(plain: bool) -> None:
    buffer = io.StringIO()
    console = Console(file=buffer, width=80, force_terminal=not plain, color_system=None)
    for table in summary_tables(report(), "eval/dev.jsonl", width=80, plain=plain):
        console.print(table)
    text = buffer.getvalue()
    assert max(len(line) for line in text.splitlines()) <= 80
    for row in ROWS:
        assert row in text, row  # not "citati…"
    assert "…" not in text
    for group in GROUPS:
        assert group.removeprefix("kind:") in text
    assert ("─" in text) is not plain  # box drawing only in a terminal
