"""The model test's held-out figures over several seeds of the reader's fit, and how far they spread.

    python eval/seed_spread.py --seeds 0 1 2 [--work /tmp/rag-seed-spread] [--json out.json]

The same computation as ``tests/test_evaluation.py``'s held-out test (``rag.eval.fit.reader_held_out``),
once per seed of the reader's fit (``rag fit --reader-seed``). One run takes about
half an hour on two cores. The word tagger's seed alone moved the held-out F1 by 0.009 and 215
answerable questions (eval/EXPERIMENTS.md), as much as a small change to the code: compare a
change with main by the mean and spread of a few seeds, not by one run.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

from rag.eval.fit import reader_held_out

FIGURES = ("token_f1", "citation_precision", "citation_recall", "abstained_answerable")


def held_out(root: Path, work: Path, seed: int) -> dict[str, float]:
    """The answerable figures, unanswerable refusals and abstention AUROC of one seed's run."""
    result = reader_held_out(root, work, seed)
    assert result.report is not None
    summary = result.report.summary
    figures = {name: float(summary["answerable"][name]) for name in FIGURES}
    figures["abstained_unanswerable"] = float(summary["unanswerable"]["abstained_unanswerable"])
    figures["auroc"] = float(result.calibration["auroc"])
    return figures


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--work", type=Path, default=Path("/tmp/rag-seed-spread"))
    parser.add_argument("--json", type=Path, help="write every seed's figures here")
    args = parser.parse_args()
    root = Path(__file__).resolve().parent.parent
    runs = {}
    for seed in args.seeds:  # one index for all seeds: only the fit changes
        runs[seed] = held_out(root, args.work, seed)
        print(f"seed {seed}: " + ", ".join(f"{k} {v:.4f}" for k, v in runs[seed].items()), flush=True)
    for name in runs[args.seeds[0]]:
        values = [run[name] for run in runs.values()]
        spread = f" (min {min(values):.4f}, max {max(values):.4f})" if len(values) > 1 else ""
        print(f"{name}: mean {statistics.fmean(values):.4f}{spread}")
    if args.json:
        args.json.write_text(json.dumps(runs, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
