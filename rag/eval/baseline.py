"""Per-question outcomes saved as a baseline, and what got worse or better since.

A baseline is a JSON file: the rag version, the time and, per question id, whether it passed,
its token F1, whether it abstained and how many gold evidence spans its citations covered.
``compare`` reports each question whose outcome changed. A question is *worse* when it
passed and now fails, or its F1 fell by more than the tolerance, or its citations cover
fewer evidence spans; *better* the other way round. Questions new to the gold file or gone
from it are listed, never counted as regressions.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import msgspec

from rag import __version__
from rag.eval.checks import Checked, f1_floor, question_problems
from rag.eval.metrics import GoldItem, Outcome
from rag.eval.thresholds import DEFAULT_QUESTION_F1, DEFAULT_TOLERANCE


class QuestionRecord(msgspec.Struct, frozen=True):
    passed: bool
    f1: float
    abstained: bool
    covered_evidence: int
    problems: list[str] = msgspec.field(default_factory=list)


class Baseline(msgspec.Struct):
    rag_version: str
    created: str
    questions: dict[str, QuestionRecord]


class BaselineError(ValueError):
    pass


@dataclass(frozen=True)
class Change:
    id: str
    direction: str  # "worse", "better", "new" or "gone"
    detail: str


def record(outcome: Outcome, problems: list[str]) -> QuestionRecord:
    return QuestionRecord(not problems, round(outcome.f1, 4), outcome.abstained, outcome.covered_evidence, problems)


def make_baseline(results: Iterable[Checked]) -> Baseline:
    return baseline_of({c.item.id: record(c.outcome, list(c.problems)) for c in results})


def baseline_from_outcomes(
    items: Iterable[GoldItem], outcomes: Iterable[Outcome], min_f1: float = DEFAULT_QUESTION_F1
) -> Baseline:
    """The baseline of a ``rag.eval.metrics.evaluate`` report (its outcomes in the items' order)."""
    return baseline_of(
        {
            item.id: record(outcome, question_problems(item, outcome, f1_floor(item, min_f1)))
            for item, outcome in zip(items, outcomes, strict=True)
        }
    )


def baseline_of(questions: dict[str, QuestionRecord]) -> Baseline:
    created = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    return Baseline(__version__, created, questions)


def save_baseline(path: Path, baseline: Baseline) -> Baseline:
    path.write_bytes(msgspec.json.format(msgspec.json.encode(baseline), indent=2) + b"\n")
    return baseline


def load_baseline(path: Path) -> Baseline:
    try:
        return msgspec.json.decode(path.read_bytes(), type=Baseline)
    except OSError as error:
        raise BaselineError(f"cannot read baseline {path}: {error}") from error
    except msgspec.DecodeError as error:
        raise BaselineError(f"{path} is not a baseline saved by `rag eval --save-baseline`: {error}") from error


def compare(before: Baseline, now: Baseline, tolerance: float = DEFAULT_TOLERANCE) -> list[Change]:
    changes = []
    for qid, new in now.questions.items():
        old = before.questions.get(qid)
        if old is None:
            changes.append(Change(qid, "new", "passes" if new.passed else "fails: " + "; ".join(new.problems)))
            continue
        worse, better = _differences(old, new, tolerance)
        if worse:
            changes.append(Change(qid, "worse", "; ".join(worse)))
        elif better:
            changes.append(Change(qid, "better", "; ".join(better)))
    gone = [qid for qid in before.questions if qid not in now.questions]
    changes += [Change(qid, "gone", "no longer in the gold file") for qid in gone]
    return changes


def _differences(old: QuestionRecord, new: QuestionRecord, tolerance: float) -> tuple[list[str], list[str]]:
    worse, better = [], []
    if old.passed and not new.passed:
        worse.append("passed, now fails: " + "; ".join(new.problems))
    elif new.passed and not old.passed:
        better.append("failed, now passes")
    if new.f1 < old.f1 - tolerance:
        worse.append(f"F1 {old.f1:.2f} -> {new.f1:.2f}")
    elif new.f1 > old.f1 + tolerance:
        better.append(f"F1 {old.f1:.2f} -> {new.f1:.2f}")
    if new.covered_evidence < old.covered_evidence:
        worse.append(f"evidence spans cited {old.covered_evidence} -> {new.covered_evidence}")
    elif new.covered_evidence > old.covered_evidence:
        better.append(f"evidence spans cited {old.covered_evidence} -> {new.covered_evidence}")
    if new.abstained != old.abstained and not (worse or better):
        (better if new.passed else worse).append("abstains now" if new.abstained else "answers now")
    return worse, better


def regressions(changes: Iterable[Change]) -> list[Change]:
    return [c for c in changes if c.direction == "worse"]


def describe_changes(changes: list[Change], before: Baseline) -> list[str]:
    """One line per change, worse first, then a count."""
    order = {"worse": 0, "better": 1, "new": 2, "gone": 3}
    lines = [f"{c.direction:<6} {c.id}: {c.detail}" for c in sorted(changes, key=lambda c: (order[c.direction], c.id))]
    counts = {d: sum(c.direction == d for c in changes) for d in order}
    summary = ", ".join(f"{n} {d}" for d, n in counts.items() if n) or "no change"
    lines.append(f"since the baseline of {before.created} (rag {before.rag_version}): {summary}")
    return lines
