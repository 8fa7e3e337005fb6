"""Fitting the abstention rule that reads the span head's margin (``rag.answering.abstention``).

It is stacked: its inputs are, for every gold question, the reader's abstention logit under the
reader model fitted without the question's document, and the best margin of a span head
fine-tuned without the question's fold of documents, reading the sentences that model ranks
best. Both are what a new document gives at serving time; in-sample logits and margins are too
sure. Held out, the rule itself is fitted leave-one-document-out over those rows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import msgspec
import numpy as np
import numpy.typing as npt

from rag.answering.abstention import HEAD_ABSTENTION_FEATURES
from rag.answering.model import HeadAbstention, ReaderModel, sigmoid
from rag.answering.reader import Reader
from rag.answering.span_head import SpanHead
from rag.eval.linear import choose_threshold, logistic
from rag.eval.samples import Sample

StackedRows = tuple[npt.NDArray[np.float64], list[str], npt.NDArray[np.int64]]  # rows, their documents, answerable


def stacked_rows(readers: Sequence[tuple[Reader, Sequence[Sample]]], models: Mapping[str, ReaderModel],
                 heads: Mapping[str, SpanHead]) -> StackedRows:  # fmt: skip
    """``HEAD_ABSTENTION_FEATURES`` of every sample with candidates (each set's samples with its own
    reader), from the model and head that did not see its document; with each row's document and
    whether its question is answerable."""
    rows, groups, answerable = [], [], []
    for reader, samples in readers:
        for s in samples:
            if not len(s.reading.proposals):
                continue
            model = models[s.group]
            logits = reader.scores(s.reading, model)
            signals = reader.abstention_row(s.reading, logits, s.passages)[None]
            headed = reader.head_reading(heads[s.group], s.item.question, s.reading, logits)
            rows.append((float(model.abstention.logits(signals)[0]), headed.margin if headed is not None else 0.0))
            groups.append(s.group)
            answerable.append(int(s.item.answerable))
    x = np.asarray(rows, dtype=np.float64).reshape(-1, len(HEAD_ABSTENTION_FEATURES))
    return x, groups, np.asarray(answerable, dtype=np.int64)


def fit_head_abstention(x: npt.NDArray[np.float64], y: npt.NDArray[np.int64], max_wrong: float) -> HeadAbstention:
    model = logistic(x, y, HEAD_ABSTENTION_FEATURES, 1.0)
    confidence = np.array([sigmoid(v) for v in model.logits(x)])
    return HeadAbstention(model, choose_threshold(confidence, y, max_wrong))


def with_stacked_rules(final: ReaderModel, held_out: Mapping[str, ReaderModel], groups: Sequence[str],
                       x: npt.NDArray[np.float64], y: npt.NDArray[np.int64],
                       max_wrong: float) -> tuple[ReaderModel, dict[str, ReaderModel]]:  # fmt: skip
    """The final model with the rule fitted on every row, and each held-out model with the rule
    fitted without its document's rows."""
    by_group = np.asarray(groups)
    final = msgspec.structs.replace(final, with_head=fit_head_abstention(x, y, max_wrong))
    models = {}
    for group, model in held_out.items():
        keep = by_group != group
        models[group] = msgspec.structs.replace(model, with_head=fit_head_abstention(x[keep], y[keep], max_wrong))
    return final, models


def stacked_confidence(models: Mapping[str, ReaderModel], groups: Sequence[str],
                       x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:  # fmt: skip
    """Each row's confidence under the rule of its document's held-out model."""
    found = []
    for group, row in zip(groups, x, strict=True):
        rule = models[group].with_head
        assert rule is not None
        found.append(sigmoid(float(rule.model.logits(row[None])[0])))
    return np.asarray(found, dtype=np.float64)
