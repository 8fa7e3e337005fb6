"""``rag eval``'s work: read and check the gold file, run it, print the figures, compare baselines."""

from __future__ import annotations

from pathlib import Path

import click

from rag.cli.console import console, open_service, out
from rag.config import Settings
from rag.eval.baseline import (
    BaselineError,
    baseline_from_outcomes,
    compare,
    describe_changes,
    load_baseline,
    regressions,
    save_baseline,
)
from rag.eval.checks import with_resolved_evidence
from rag.eval.gold import GoldFileError, read_gold
from rag.eval.metrics import GoldItem, Report, evaluate, render_markdown
from rag.eval.tables import summary_tables
from rag.eval.thresholds import EvalSettings, ThresholdError, eval_settings, from_pyproject

PLAIN_WIDTH = 80  # for a pipe or a file


def evaluate_gold(settings: Settings, gold_path: Path) -> tuple[Report, list[GoldItem], EvalSettings]:
    try:
        items = read_gold(gold_path)
        evaluation = eval_settings(from_pyproject(Path("pyproject.toml")), "pyproject.toml [tool.rag.eval]")
    except (GoldFileError, ThresholdError) as error:
        raise click.ClickException(str(error)) from error
    service = open_service(settings)
    resolved = []
    for item in items:  # evidence no document holds any more (removed, edited) is reported, then scored as missed
        checked, notes = with_resolved_evidence(item, service.data.documents)
        resolved.append(checked)
        for note in notes:
            console.print(f"[yellow]{item.id}[/]: {note}", highlight=False)
    return evaluate(service, resolved), resolved, evaluation


def print_report(report: Report, title: str, markdown: bool) -> None:
    if markdown:
        click.echo(render_markdown(report, title=title))
        return
    terminal = out.is_terminal
    width = out.width if terminal else PLAIN_WIDTH
    for n, table in enumerate(summary_tables(report, title, width=width, plain=not terminal)):
        if n:
            out.print()
        out.print(table, width=width, soft_wrap=not terminal)


def compare_with_baseline(
    report: Report,
    items: list[GoldItem],
    evaluation: EvalSettings,
    save_to: Path | None,
    compare_to: Path | None,
    tolerance: float | None,
) -> bool:
    """Save and/or compare the baseline; True when a question got worse than in ``compare_to``."""
    now = baseline_from_outcomes(items, report.outcomes, evaluation.question_f1)
    worse = False
    if compare_to:
        try:
            before = load_baseline(compare_to)
        except BaselineError as error:
            raise click.ClickException(str(error)) from error
        allowed = evaluation.baseline_tolerance if tolerance is None else tolerance
        changes = compare(before, now, allowed)
        out.print()
        for line in describe_changes(changes, before):
            out.print(line, highlight=False, markup=False, soft_wrap=True)
        worse = bool(regressions(changes))
    if save_to:
        save_baseline(save_to, now)
        console.print(f"baseline of {len(now.questions)} questions saved to {save_to}", highlight=False)
    return worse
