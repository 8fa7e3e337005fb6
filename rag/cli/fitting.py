"""``rag fit``: fit the reader on the gold sets and report figures on held-out documents."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import click
import msgspec
import numpy as np
import numpy.typing as npt
from rich.console import Console

from rag.answering.model import PACKAGED, ReaderModel, save_model, sigmoid
from rag.answering.reader import Reader
from rag.config import Settings
from rag.engine.service import QAService
from rag.eval.fit import GoldSet, Sample, abstention_rows, calibration, collect, fit_model, held_out_models, load_sets
from rag.eval.metrics import GoldItem, Outcome, Report, evaluate, load_gold, render_markdown, summarize

out = Console(stderr=True)


def group_of(gold_set: GoldSet, item: GoldItem) -> str:
    """The unit held out: the question's document, or the whole set when it names none."""
    return item.doc or gold_set.name


def genre_of(gold_set: GoldSet, item: GoldItem) -> str:
    return gold_set.genres.get(item.doc, gold_set.genre)


def open_set(settings: Settings, gold_set: GoldSet) -> tuple[QAService, list[GoldItem]]:
    """The engine over the set's seeds, with its own index under the configured index folder."""
    paths = msgspec.structs.replace(
        settings.paths, seeds=gold_set.seeds, index=str(Path(settings.paths.index) / f"eval-{gold_set.name}")
    )
    service = QAService.open(msgspec.structs.replace(settings, paths=paths))
    return service, [item for path in gold_set.gold for item in load_gold(Path(path))]


@click.command()
@click.option("--sets", "sets_path", type=click.Path(exists=True, path_type=Path), default=Path("eval/sets.toml"),
              show_default=True, help="The gold sets: seeds folders and gold files.")  # fmt: skip
@click.option("--out", "out_path", type=click.Path(path_type=Path), default=PACKAGED, show_default=True,
              help="Where to write the fitted model.")  # fmt: skip
@click.option("--report", "report_path", type=click.Path(path_type=Path), help="Write the held-out report (Markdown).")
@click.option("--held-out/--no-held-out", default=True, help="Measure each document with a model fitted without it.")
@click.pass_obj
def fit(settings: Settings, sets_path: Path, out_path: Path, report_path: Path | None, held_out: bool) -> None:
    """Fit the candidate scorer and abstention rule; report leave-one-document-out figures."""
    opened: list[tuple[GoldSet, QAService, list[GoldItem]]] = []
    samples: list[Sample] = []
    for gold_set in load_sets(sets_path):
        out.print(f"[bold]{gold_set.name}[/]: {gold_set.seeds}")
        service, items = open_set(settings, gold_set)
        samples += collect(service, items, partial(group_of, gold_set), partial(genre_of, gold_set))
        opened.append((gold_set, service, items))
    reader = opened[0][1].answerer
    final = fit_model(reader, samples)
    save_model(final, out_path)
    out.print(f"model written to {out_path} (threshold {final.threshold})")
    if not held_out:
        return
    models = held_out_models(reader, samples)
    outcomes: list[Outcome] = []
    for gold_set, service, items in opened:
        model_for = partial(held_out_model, models, gold_set)
        outcomes += evaluate(service, items, partial(genre_of, gold_set), model_for).outcomes
    report = Report(outcomes=outcomes, summary=summarize(outcomes))
    calibrated = calibration(*held_out_confidence(reader, samples, models))
    text = render_markdown(report, "held-out figures (leave-one-document-out)") + (
        f"\n\nabstention on held-out documents: AUROC {calibrated['auroc']}, "
        f"expected calibration error {calibrated['ece']}\n"
    )
    print(text)
    if report_path:
        report_path.write_text(text, encoding="utf-8")
        out.print(f"held-out report written to {report_path}")


def held_out_model(models: dict[str, ReaderModel], gold_set: GoldSet, item: GoldItem) -> ReaderModel:
    return models[group_of(gold_set, item)]


def held_out_confidence(
    reader: Reader, samples: list[Sample], models: dict[str, ReaderModel]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]:
    """Each question's abstention probability under the model that did not see its document."""
    confidence, answerable = [], []
    for s in samples:
        if len(s.reading.proposals):
            model = models[s.group]
            row = abstention_rows(reader, model, [s])
            confidence.append(sigmoid(float(model.abstention.logits(row)[0])))
            answerable.append(int(s.item.answerable))
    return np.array(confidence, dtype=np.float64), np.array(answerable, dtype=np.int64)
