"""``rag fit``: fit the reader on the gold sets and report figures on held-out documents."""

from __future__ import annotations

from pathlib import Path

import click
import msgspec
from rich.console import Console

from rag.answering.model import PACKAGED, save_model
from rag.answering.span_export import PACKAGED_WEIGHTS
from rag.config import Settings
from rag.eval.ablation import run_ablations
from rag.eval.fit import fit_and_hold_out, load_sets
from rag.eval.metrics import Report
from rag.eval.span_training import synthetic_examples

out = Console(stderr=True)
# The committed cloze questions (eval/pretraining/build.py) the shipped span head was pretrained on.
CLOZE = Path("eval/pretraining/cloze.json.gz")


@click.command()
@click.option("--sets", "sets_path", type=click.Path(exists=True, path_type=Path), default=Path("eval/sets.toml"),
              show_default=True, help="The gold sets: seeds folders and gold files.")  # fmt: skip
@click.option("--out", "out_path", type=click.Path(path_type=Path), default=PACKAGED, show_default=True,
              help="Where to write the fitted model.")  # fmt: skip
@click.option("--span-head-out", "head_path", type=click.Path(path_type=Path), default=PACKAGED_WEIGHTS,
              show_default=True, help="Where to write the fine-tuned span head's weights.")  # fmt: skip
@click.option("--report", "report_path", type=click.Path(path_type=Path), help="Write the held-out report (Markdown).")
@click.option("--outcomes", "outcomes_path", type=click.Path(path_type=Path),
              help="Also write every held-out question's outcome and the summary (JSON).")  # fmt: skip
@click.option("--held-out/--no-held-out", default=True, help="Measure each document with a model fitted without it.")
@click.option("--ablations", "ablations_path", type=click.Path(path_type=Path),
              help="Instead of fitting: held-out figures with each stage switched off in turn (Markdown).")  # fmt: skip
@click.option("--pretrain", "pretraining", type=click.Path(dir_okay=False, path_type=Path), default=CLOZE,
              show_default=True, help="Pretrain the span head on these synthetic questions before fine-tuning it "
                                      "(about 9 min more).")  # fmt: skip
@click.option("--no-pretrain", is_flag=True, help="Fine-tune the span head from MiniLM itself.")
@click.option("--faq-pairs", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Fine-tune every span head on these question/sentence pairs too (eval/pretraining/faq.json.gz; "
                   "measured, not taken: eval/EXPERIMENTS.md).")  # fmt: skip
@click.option("--reader-seed", type=int, default=0, show_default=True,
              help="Seed of the reader's fit (its word tagger's networks). Held-out figures moved with it by "
                   "about 0.01 F1 before the tagger averaged several: compare changes over a few seeds.")  # fmt: skip
@click.pass_obj
def fit(settings: Settings, sets_path: Path, out_path: Path, head_path: Path, report_path: Path | None,
        outcomes_path: Path | None, held_out: bool, ablations_path: Path | None,
        pretraining: Path, no_pretrain: bool, faq_pairs: Path | None, reader_seed: int) -> None:  # fmt: skip
    """Fit the candidate scorer and abstention rule, fine-tune the span head; report held-out figures."""
    try:
        sets = load_sets(sets_path)
    except ValueError as error:  # a gold file listed twice, a set that does not match the format
        raise click.ClickException(str(error)) from error
    if ablations_path:
        table = run_ablations(settings, sets, log=out.print)
        print(table)
        ablations_path.write_text(table, encoding="utf-8")
        out.print(f"ablations written to {ablations_path}")
        return
    start = None if no_pretrain else pretraining
    if start is not None and not start.is_file():
        raise click.ClickException(f"no pretraining questions at {start} (run from the repository, or --no-pretrain)")
    extra = synthetic_examples(faq_pairs) if faq_pairs else []
    result = fit_and_hold_out(settings, sets, held_out, log=out.print, head_out=head_path, pretraining=start,
                              extra=extra, seed=reader_seed)  # fmt: skip
    save_model(result.model, out_path)
    out.print(f"model written to {out_path} (threshold {result.model.threshold})")
    if result.report is None:
        return
    calibrated = result.calibration
    text = render_by_group(result.report, "held-out figures (leave-one-document-out)") + (
        f"\n\nabstention on held-out documents: AUROC {calibrated['auroc']}, "
        f"expected calibration error {calibrated['ece']}"
        + (f" (the reader's rule without the span head's margin: AUROC {calibrated['reader_auroc']})"
           if "reader_auroc" in calibrated else "") + "\n"
    )
    print(text)
    if report_path:
        report_path.write_text(text, encoding="utf-8")
        out.print(f"held-out report written to {report_path}")
    if outcomes_path:  # per question: what the summary hides, for reading failures one by one
        outcomes_path.write_bytes(msgspec.json.encode(result.report))
        out.print(f"held-out outcomes written to {outcomes_path}")


GROUP_COLUMNS = ("questions", "hit@3", "token_f1", "exact_match", "citation_precision", "citation_recall",
                 "abstained_unanswerable", "abstained_answerable", "citation_validity")  # fmt: skip


def render_by_group(report: Report, title: str) -> str:
    """One row per group (all, per kind, per genre, per document), one column per metric."""
    header = "| group | " + " | ".join(GROUP_COLUMNS) + " |"
    lines = [f"**{title}**", "", header, "|---" * (len(GROUP_COLUMNS) + 1) + "|"]
    for group in sorted(report.summary, key=lambda g: (g.count(":"), g.split(":")[0], g)):
        cells = [report.summary[group].get(c, float("nan")) for c in GROUP_COLUMNS]
        lines.append(f"| {group} | " + " | ".join(_cell(v) for v in cells) + " |")
    return "\n".join(lines)


def _cell(value: float) -> str:
    """A metric to three significant digits; a count (1,082 questions) whole, not as 1.08e+03."""
    if value != value:
        return "–"
    return str(int(value)) if value == int(value) and value >= 1 else f"{value:.3g}"
