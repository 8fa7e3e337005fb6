"""Set-level accuracy thresholds: ``[tool.rag.eval]`` in a ``pyproject.toml``, or flags.

Every key is optional; a threshold that is not set is not checked::

    [tool.rag.eval]
    min_f1 = 0.5                  # mean token F1 over answerable questions
    min_citation_precision = 0.8  # cited spans that overlap gold evidence
    min_citation_recall = 0.6     # gold evidence spans that some citation overlaps
    min_abstention = 0.7          # unanswerable questions abstained on
    max_false_abstention = 0.2    # answerable questions abstained on
    min_hit_at_5 = 0.9            # answerable questions with gold evidence in the top 5 passages
    question_f1 = 0.3             # each question's own F1 floor (a line's "min_f1" overrides it)
    baseline_tolerance = 0.05     # F1 drop per question that counts as a regression

The figures are ``rag.eval.metrics.figures``' over every question of the gold file.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_QUESTION_F1 = 0.3  # an extractive answer is often a clause around a short gold answer
DEFAULT_TOLERANCE = 0.05  # an F1 change smaller than this is float noise or a reworded clause

# threshold name -> (figure in rag.eval.metrics.figures, whether the figure must be at least or at most it)
SET_THRESHOLDS: dict[str, tuple[str, str]] = {
    "min_f1": ("token_f1", ">="),
    "min_exact_match": ("exact_match", ">="),
    "min_citation_precision": ("citation_precision", ">="),
    "min_citation_recall": ("citation_recall", ">="),
    "min_citation_validity": ("citation_validity", ">="),
    "min_abstention": ("abstained_unanswerable", ">="),
    "max_false_abstention": ("abstained_answerable", "<="),
    "min_hit_at_1": ("hit@1", ">="),
    "min_hit_at_3": ("hit@3", ">="),
    "min_hit_at_5": ("hit@5", ">="),
    "min_mrr_at_10": ("mrr@10", ">="),
}
OTHER_KEYS = {"question_f1": DEFAULT_QUESTION_F1, "baseline_tolerance": DEFAULT_TOLERANCE}


class ThresholdError(ValueError):
    pass


@dataclass(frozen=True)
class EvalSettings:
    thresholds: dict[str, float]
    question_f1: float = DEFAULT_QUESTION_F1
    baseline_tolerance: float = DEFAULT_TOLERANCE


@dataclass(frozen=True)
class ThresholdResult:
    name: str
    figure: str
    actual: float
    limit: float
    passed: bool

    def describe(self) -> str:
        relation = "at least" if SET_THRESHOLDS[self.name][1] == ">=" else "at most"
        state = "met" if self.passed else "NOT met"
        return f"{self.figure} is {self.actual:.4g}; {self.name} wants {relation} {self.limit:g}: {state}"


def _number(name: str, value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= float(value) <= 1.0:
        raise ThresholdError(f"{where}: {name} must be a number between 0 and 1 (got {value!r})")
    return float(value)


def eval_settings(table: dict[str, Any], where: str) -> EvalSettings:
    unknown = sorted(set(table) - set(SET_THRESHOLDS) - set(OTHER_KEYS))
    if unknown:
        known = ", ".join([*SET_THRESHOLDS, *OTHER_KEYS])
        raise ThresholdError(f"{where}: unknown key(s) {', '.join(unknown)}; known: {known}")
    values = {name: _number(name, value, where) for name, value in table.items()}
    return EvalSettings(
        thresholds={k: v for k, v in values.items() if k in SET_THRESHOLDS},
        question_f1=values.get("question_f1", DEFAULT_QUESTION_F1),
        baseline_tolerance=values.get("baseline_tolerance", DEFAULT_TOLERANCE),
    )


def from_pyproject(path: Path) -> dict[str, Any]:
    """The ``[tool.rag.eval]`` table of ``path`` ({} when the file or the table is absent)."""
    if not path.is_file():
        return {}
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except tomllib.TOMLDecodeError as error:
        raise ThresholdError(f"{path}: not valid TOML: {error}") from error
    table = data.get("tool", {}).get("rag", {}).get("eval", {})
    if not isinstance(table, dict):
        raise ThresholdError(f"{path}: [tool.rag.eval] must be a table")
    return table


def parse_flag(text: str) -> tuple[str, float]:
    """``NAME=VALUE`` from the command line."""
    name, sep, value = text.partition("=")
    try:
        number = float(value)
    except ValueError:
        number = float("nan")
    if not sep or number != number:
        raise ThresholdError(f"--rag-threshold wants NAME=NUMBER, e.g. min_f1=0.5 (got {text!r})")
    return name.strip(), number


def check(settings: EvalSettings, figures: dict[str, float]) -> list[ThresholdResult]:
    results = []
    for name, limit in settings.thresholds.items():
        figure, relation = SET_THRESHOLDS[name]
        actual = figures.get(figure, float("nan"))
        passed = actual >= limit if relation == ">=" else actual <= limit  # NaN (nothing to measure) fails
        results.append(ThresholdResult(name, figure, actual, limit, passed))
    return results
