"""``rag eval``'s figures as tables that fit the terminal (80 columns and up) or a pipe.

The summary has one column per group (all, answerable, unanswerable, one per kind, ...),
too many for 80 columns, where rich would cut the metric names (``citati…``) and rows would
look alike. So the groups are split over as many tables as needed, each no wider than the
width given; metric names are never cut. For a pipe or a file the tables are plain text,
with no box-drawing characters and no colour.
"""

from __future__ import annotations

from rich import box
from rich.table import Table

from rag.eval.metrics import ROWS, Report

MIN_VALUE_WIDTH = 6  # "0.8523", "12.34"


def _cell(value: float) -> str:
    return "–" if value != value else f"{value:g}"


def _header(group: str) -> str:
    return group.partition(":")[2] or group


def column_groups(report: Report, width: int) -> list[tuple[str, list[str]]]:
    """(title, groups) per table: the overall groups first, then one set per prefix ("kind:", and
    any other "name:" grouping the report has), each set split so that its table fits ``width``."""
    label_width = max(len(r) for r in ROWS) + 3  # the metric name, its padding and a separator
    sets: dict[str, list[str]] = {"": []}
    for group in report.summary:
        prefix = group.partition(":")[0] if ":" in group else ""
        sets.setdefault(prefix, []).append(group)
    tables: list[tuple[str, list[str]]] = []
    for prefix, groups in sets.items():
        title = f"by {prefix}" if prefix else ""
        current: list[str] = []
        used = label_width
        for group in groups:
            cells = [_cell(report.summary[group].get(r, float("nan"))) for r in ROWS]
            needed = max(len(_header(group)), MIN_VALUE_WIDTH, *(len(c) for c in cells)) + 3
            if current and used + needed > width:
                tables.append((title, current))
                current, used = [], label_width
            current.append(group)
            used += needed
        if current:
            tables.append((title, current))
    return tables


def summary_tables(report: Report, title: str, width: int = 80, plain: bool = False) -> list[Table]:
    tables = []
    for part, groups in column_groups(report, width):
        table = Table(
            title=f"{title}: {part}" if part else title,
            box=None if plain else box.SIMPLE_HEAD,
            title_justify="left",
            pad_edge=False,
        )
        table.add_column("metric", no_wrap=True)
        for group in groups:
            table.add_column(_header(group), justify="right", no_wrap=True)
        for row in ROWS:
            table.add_row(row, *[_cell(report.summary[g].get(row, float("nan"))) for g in groups])
        tables.append(table)
    return tables
