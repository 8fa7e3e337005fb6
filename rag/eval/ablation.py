"""Ablations: the held-out figures with one stage of the reader switched off at a time.

Each row refits the reader's models with one switch of ``[answering]`` changed (a candidate
generator, a feature group, span choice by agreement, abstention) and measures every question
with the model fitted without its document, exactly as ``rag fit``'s held-out report does. The
difference from the first row is what that stage is worth on documents it was not fitted on.

The span head is fine-tuned five times per row (one head per fold of documents, minutes each), so
only the first row has it; the second row turns it off, and every later row is measured without it
too: compare those with the second row.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import msgspec

from rag.config import CANDIDATE_SOURCES, FEATURE_GROUP_NAMES, Settings
from rag.eval.fit import FitResult, GoldSet, fit_and_hold_out

NO_HEAD: dict[str, Any] = {"span_head_sentences": 0}
ABLATIONS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("the full reader", {}),
    ("without the span head", NO_HEAD),
    *((f"without {source} candidates (no head)",
       {**NO_HEAD, "candidates": [s for s in CANDIDATE_SOURCES if s != source]}) for source in CANDIDATE_SOURCES),
    *((f"without {group} features (no head)", {**NO_HEAD, "features_off": [group]}) for group in FEATURE_GROUP_NAMES),
    ("span: agreement of the best 10 candidates (no head)", {**NO_HEAD, "consensus_candidates": 10}),
    ("no abstention (no head)", {**NO_HEAD, "abstain": False}),
)  # fmt: skip
COLUMNS = (("token_f1", "answerable", "F1"), ("citation_precision", "answerable", "citation precision"),
           ("citation_recall", "answerable", "evidence recall"),
           ("abstained_unanswerable", "unanswerable", "unanswerable refused"),
           ("abstained_answerable", "answerable", "answerable refused"))  # fmt: skip


def ablated(settings: Settings, change: dict[str, Any]) -> Settings:
    return msgspec.structs.replace(settings, answering=msgspec.structs.replace(settings.answering, **change))


def run_ablations(settings: Settings, sets: Sequence[GoldSet], log: Callable[[str], object] = print,
                  ablations: Sequence[tuple[str, dict[str, Any]]] = ABLATIONS) -> str:  # fmt: skip
    """The Markdown table of held-out figures, one row per ablation."""
    rows: list[tuple[str, FitResult]] = []
    for name, change in ablations:
        log(f"ablation: {name}")
        rows.append((name, fit_and_hold_out(ablated(settings, change), sets, log=lambda _: None)))
    return render(rows)


def render(rows: Sequence[tuple[str, FitResult]]) -> str:
    header = "| reader | " + " | ".join(title for _, _, title in COLUMNS) + " | AUROC |"
    lines = [header, "|---" * (len(COLUMNS) + 2) + "|"]
    for name, result in rows:
        assert result.report is not None
        summary = result.report.summary
        cells = [f"{summary[group][metric]:.3f}" if group in summary else "–" for metric, group, _ in COLUMNS]
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {result.calibration.get('auroc', float('nan')):.3f} |")
    questions = len(rows[0][1].report.outcomes) if rows and rows[0][1].report else 0
    return "\n".join(lines) + f"\n\n{questions} questions, each answered by the model fitted without its document.\n"
