"""Fitting the reader's models on gold sets, and measuring them on documents held out from fitting.

``rag fit`` reads the gold sets named in ``eval/sets.toml`` (each a seeds folder and gold
questions over it), runs retrieval and the reader's stages for every question, and labels each
candidate by its token F1 with the gold answers (>= 0.5 is a right answer). Fitted with
scikit-learn: the word tagger (``rag.eval.words``: which words of the answer's sentence are the
answer), the sentence and span scorers on answerable questions (pairwise logistic regressions,
over word columns cross-fitted by document), and the abstention rule (is the question
answerable?) on features of the scored candidates. The
threshold is the middle of the best plateau of Youden's J among thresholds that refuse at most
``max_wrong`` of the answerable questions. With the span head on, it is fine-tuned too
(``rag.eval.span_training``), and a second abstention rule that also reads the head's margin is
stacked on held-out logits and margins (``rag.eval.head_abstention``).

Leave-one-document-out: for every document, both models are refitted without its questions and
its questions are answered with those models, so each reported figure comes from a model that
never saw that document. The final model, fitted on everything, is written for serving.
"""

from __future__ import annotations

import shutil
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import NamedTuple

import msgspec
import numpy as np
import numpy.typing as npt

from rag.answering.abstention import ABSTENTION_FEATURES
from rag.answering.features import FEATURES, SENTENCE_FEATURES, candidate_sentence_rows
from rag.answering.model import LinearModel, ReaderModel, save_model, sigmoid
from rag.answering.reader import Reader, neutral_model
from rag.config import Settings, load_settings
from rag.engine.service import QAService
from rag.eval.head_abstention import stacked_confidence, stacked_rows, with_stacked_rules
from rag.eval.linear import calibration, choose_threshold, feature_scale, logistic, pairwise
from rag.eval.metrics import GoldItem, Outcome, Report, evaluate, load_gold, summarize
from rag.eval.samples import Sample, collect
from rag.eval.span_training import SpanExample, TrainingRecipe, held_out_heads, pretrained, span_examples, trained
from rag.eval.words import cross_fitted_word_columns, fit_tagger

RIGHT_ANSWER_F1 = 0.5
# A question's best answer is paired against every candidate this much worse. Pairs 0.3 apart
# never taught the scorer to prefer "3.37.0" (F1 1) to "version 3.37.0 (2021-11-27)" (F1 .8):
# the tight answer and the one with extra words were never compared. With 0.1, held-out F1 of
# the choice went from .338 to .345 on the 36 documents (0.05: .345, 0.15: .344).
SPAN_PAIR_MARGIN = 0.1


class GoldSet(msgspec.Struct, frozen=True):
    name: str
    seeds: str
    gold: list[str]  # JSON-lines files
    genre: str = ""  # the genre of every document of the set, unless ``genres`` names it
    genres: dict[str, str] = {}  # document file name -> genre


def load_sets(path: Path) -> list[GoldSet]:
    raw = tomllib.loads(path.read_text(encoding="utf-8"))
    sets = [msgspec.convert(s, GoldSet) for s in raw.get("set", [])]
    for gold_set in sets:
        # A file listed twice would count its questions twice in the fit and in every figure.
        twice = sorted({g for g in gold_set.gold if gold_set.gold.count(g) > 1})
        if twice:
            raise ValueError(f"{path}: set {gold_set.name!r} lists {', '.join(twice)} more than once")
    return sets


def fit_scorers(samples: Sequence[Sample], rows: Mapping[int, npt.NDArray[np.float32]],
                c: float = 1.0) -> tuple[LinearModel, LinearModel]:  # fmt: skip
    """The sentence scorer and the span scorer, fitted as one ranking model over every candidate of
    a question: a candidate's ``FEATURES`` and its sentence's ``SENTENCE_FEATURES`` side by side, the
    question's best candidate (F1 >= 0.5) against each candidate ``SPAN_PAIR_MARGIN`` worse, in any
    sentence, every question weighing the same. The reader adds the two scorers' logits, so the
    model's coefficients split into them. (Fitted apart, on sentence pairs and then on pairs within
    a sentence, each learned a ranking the sum was never judged on; held out, the answer cited the
    evidence less often, citation precision 0.605 against 0.620, at the same F1: eval/EXPERIMENTS.md.)
    ``rows``: each sample's candidate rows (``Reader.span_rows``) by ``id``."""
    useful = [s for s in samples if s.item.answerable and len(s.quality) and s.quality.max() >= RIGHT_ANSWER_F1]
    joined = [np.hstack([rows[id(s)], candidate_sentence_rows(rows[id(s)], s.reading.proposals)]).astype(np.float64)
              for s in useful]  # each candidate's row, its sentence's after it
    scale = feature_scale(np.vstack(joined))
    pairs: list[npt.NDArray[np.float64]] = []
    weights: list[float] = []
    for s, table in zip(useful, joined, strict=True):
        best = int(np.argmax(s.quality))
        worse = np.flatnonzero(s.quality <= s.quality[best] - SPAN_PAIR_MARGIN)
        z = table / scale
        pairs += [z[best] - z[j] for j in worse]
        weights += [1.0 / max(len(worse), 1)] * len(worse)
    joint = pairwise(pairs, (*FEATURES, *SENTENCE_FEATURES), scale, c, np.asarray(weights) / np.mean(weights))
    split = len(FEATURES)
    return (LinearModel(list(SENTENCE_FEATURES), [0.0] * len(SENTENCE_FEATURES), joint.scale[split:],
                        joint.coef[split:], 0.0),
            LinearModel(list(FEATURES), [0.0] * split, joint.scale[:split], joint.coef[:split], 0.0))  # fmt: skip


def abstention_rows(reader: Reader, model: ReaderModel, samples: Sequence[Sample],
                    rows: Mapping[int, npt.NDArray[np.float32]] | None = None) -> npt.NDArray[np.float64]:  # fmt: skip
    found = [reader.abstention_row(s.reading, reader.scores(s.reading, model, rows[id(s)] if rows else None),
                                   s.passages) for s in samples]  # fmt: skip
    return np.vstack(found).astype(np.float64)


# At most this share of the (in-sample) answerable questions may be refused: on documents held out
# from fitting, refusals ran about three points higher (0.10 in-sample gave 0.12-0.14 held out).
MAX_WRONGLY_REFUSED = 0.07


def fit_model(reader: Reader, samples: Sequence[Sample], max_wrong: float = MAX_WRONGLY_REFUSED,
              seed: int = 0) -> ReaderModel:
    """The reader's scorers, word tagger and abstention rule fitted on ``samples``; ``seed`` seeds the
    tagger's networks (held-out figures move with it: eval/EXPERIMENTS.md); nothing else is random."""
    usable = [s for s in samples if len(s.reading.proposals)]
    # The scorers and the abstention rule learn from word columns of taggers that did not see the
    # question's document, as they will be at serving time: in-sample columns are too sure.
    columns = cross_fitted_word_columns(reader, usable, seed)
    rows = {id(s): reader.span_rows(s.reading, words=columns[id(s)]) for s in usable}
    sentence, scorer = fit_scorers(usable, rows)
    unfinished = ReaderModel(sentence, scorer, fit_tagger(usable, seed), LinearModel([], [], [], [], 0.0), 0.5, {})
    x = abstention_rows(reader, unfinished, usable, rows)
    y = np.array([s.item.answerable for s in usable], dtype=np.int64)
    abstention = logistic(x, y, ABSTENTION_FEATURES, 1.0)
    confidence = np.array([sigmoid(v) for v in abstention.logits(x)])
    fitted_on: dict[str, int] = {}
    for s in usable:
        fitted_on[s.group] = fitted_on.get(s.group, 0) + 1
    return ReaderModel(sentence, scorer, unfinished.words, abstention, choose_threshold(confidence, y, max_wrong),
                       fitted_on)  # fmt: skip


def held_out_models(reader: Reader, samples: Sequence[Sample], seed: int = 0) -> dict[str, ReaderModel]:
    """For each document, the model fitted on every other document's questions."""
    groups = sorted({s.group for s in samples})
    return {g: fit_model(reader, [s for s in samples if s.group != g], seed=seed) for g in groups}


def group_of(gold_set: GoldSet, item: GoldItem) -> str:
    """The unit held out: the question's document, or the whole set when it names none."""
    return item.doc or gold_set.name


def genre_of(gold_set: GoldSet, item: GoldItem) -> str:
    return gold_set.genres.get(item.doc, gold_set.genre)


def open_set(settings: Settings, gold_set: GoldSet) -> tuple[QAService, list[GoldItem]]:
    """The engine over the set's seeds, with its own index under the configured index folder."""
    index = Path(settings.paths.index) / f"eval-{gold_set.name}"
    index.mkdir(parents=True, exist_ok=True)
    neutral = index / "neutral-model.json"  # read with no fitted model: features may have changed
    save_model(neutral_model(), neutral)
    paths = msgspec.structs.replace(settings.paths, seeds=gold_set.seeds, index=str(index))
    # No span head either: the held-out figures swap in heads that did not see the question's document.
    answering = msgspec.structs.replace(settings.answering, model=str(neutral), span_head_sentences=0)
    service = QAService.open(msgspec.structs.replace(settings, paths=paths, answering=answering))
    service.answerer.head_sentences = settings.answering.span_head_sentences
    return service, [item for path in gold_set.gold for item in load_gold(Path(path))]


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


@dataclass(frozen=True)
class FitResult:
    model: ReaderModel  # fitted on every question
    report: Report | None  # each question answered by the model fitted without its document
    calibration: dict[str, float]


class OpenedSet(NamedTuple):
    gold_set: GoldSet
    service: QAService  # over the set's seeds, with its own index
    items: list[GoldItem]
    samples: list[Sample]  # the items as the reader saw them


def open_and_collect(settings: Settings, sets: Sequence[GoldSet],
                     log: Callable[[str], object] = print) -> list[OpenedSet]:  # fmt: skip
    """Every gold set opened and its questions read (``rag fit``'s first step, and its experiments')."""
    opened = []
    for gold_set in sets:
        log(f"{gold_set.name}: {gold_set.seeds}")
        service, items = open_set(settings, gold_set)
        found = collect(service, items, partial(group_of, gold_set), partial(genre_of, gold_set))
        opened.append(OpenedSet(gold_set, service, items, found))
    return opened


def head_examples(opened: Sequence[OpenedSet], model: ReaderModel, sentences: int = 1) -> list[SpanExample]:
    """The span head's training examples, over the ``sentences`` sentences ``model`` ranks best."""
    return [e for o in opened for e in span_examples(o.service.answerer, o.samples, model, sentences)]


def fit_and_hold_out(settings: Settings, sets: Sequence[GoldSet], held_out: bool = True,
                     log: Callable[[str], object] = print, head_out: Path | None = None,
                     pretraining: Path | None = None, extra: Sequence[SpanExample] = (),
                     seed: int = 0) -> FitResult:  # fmt: skip
    """Fit on every gold set (and fine-tune the span head into ``head_out``, from a head pretrained
    on the synthetic questions of ``pretraining`` if given, on the gold sets' examples and the
    ``extra`` ones, which no gold document's fold owns); with ``held_out``, also answer every
    question with the models and span head that did not see its document, and measure those
    answers and the abstention's calibration. ``seed``: the reader's (``fit_model``)."""
    opened = open_and_collect(settings, sets, log)
    samples = [s for o in opened for s in o.samples]
    reader = opened[0].service.answerer
    final = fit_model(reader, samples, seed=seed)
    sentences = settings.answering.span_head_sentences
    examples = head_examples(opened, final, sentences) if sentences else []
    heads_folder = Path(settings.paths.index) / "span-heads"
    start = pretrained(pretraining, heads_folder, log) if pretraining and examples else None
    recipe = TrainingRecipe(start=start)
    if head_out is not None and examples:
        shutil.copyfile(trained([*examples, *extra], heads_folder, "all", recipe, log), head_out)
        log(f"span head written to {head_out}")
    if not held_out and not examples:
        return FitResult(final, None, {})
    models = held_out_models(reader, samples, seed)
    heads = held_out_heads(examples, heads_folder, recipe=recipe, log=log, extra=extra) if examples else {}
    reader_auroc = {}
    if heads:  # the rule that also reads the head's margin, stacked on held-out logits and margins
        x, groups, y = stacked_rows([(o.service.answerer, o.samples) for o in opened], models, heads)
        final, models = with_stacked_rules(final, models, groups, x, y, MAX_WRONGLY_REFUSED)
        # the rows' first column is each question's held-out logit under the reader's own rule
        reader_auroc = {"reader_auroc": calibration(np.array([sigmoid(v) for v in x[:, 0]]), y)["auroc"]}
        confidence = stacked_confidence(models, groups, x), y
    else:
        confidence = held_out_confidence(reader, samples, models)
    if not held_out:
        return FitResult(final, None, {})
    outcomes: list[Outcome] = []
    for gold_set, service, items, _ in opened:
        model_for = partial(held_out_model, models, gold_set)
        head_for = (lambda item, g=gold_set: heads[group_of(g, item)]) if heads else None
        outcomes += evaluate(service, items, partial(genre_of, gold_set), model_for, head_for).outcomes
    report = Report(outcomes=outcomes, summary=summarize(outcomes))
    return FitResult(final, report, calibration(*confidence) | reader_auroc)


def reader_held_out(root: Path, index: Path, seed: int = 0) -> FitResult:
    """The model test's held-out run: every gold set of the repository at ``root`` (its
    ``eval/sets.toml``, paths made absolute), indexes under ``index``, the reader alone. With the
    span head on, a run also fine-tunes five heads (about half an hour more); ``rag fit --report``
    measures that. ``seed``: the reader's fit (``eval/seed_spread.py`` compares several)."""
    environ = {"RAG_PATHS__INDEX": str(index), "RAG_ANSWERING__SPAN_HEAD_SENTENCES": "0"}
    settings = load_settings(root / "config" / "rag.toml", environ=environ)
    sets = [msgspec.structs.replace(s, seeds=str(root / s.seeds), gold=[str(root / g) for g in s.gold])
            for s in load_sets(root / "eval" / "sets.toml")]  # fmt: skip
    return fit_and_hold_out(settings, sets, log=lambda _: None, seed=seed)
