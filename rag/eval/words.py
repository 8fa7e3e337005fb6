"""Fitting the word tagger (``rag.answering.words``): which words of the answer's sentence are the answer.

A word is labelled by the gold answer: the words of the first gold answer found (ignoring case)
in a candidate sentence, else the words of that sentence's best candidate when it matches a
gold answer closely (token F1 >= 0.8). Other sentences of the question are left out: the
tagger says where in a sentence the answer lies, and the sentence scorer says which sentence.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler

from rag.answering.model import WordTagger
from rag.answering.reader import Reader
from rag.answering.words import WORD_FEATURES, WordTable
from rag.eval.samples import Sample

CLOSE_MATCH_F1 = 0.8
HIDDEN_UNITS = 32
# Folds of documents for the word columns the scorers learn from: each fold's columns come
# from a tagger fitted on the other folds' documents.
CROSS_FIT_FOLDS = 3


def answer_words(sample: Sample, sentence_id: int, table: WordTable) -> npt.NDArray[np.int64] | None:
    """1 for the words of the gold answer in this sentence, or None when it holds none."""
    proposals = sample.reading.proposals
    sentence = next(p.sentence for p in proposals if p.sentence.sentence_id == sentence_id)
    starts, ends = np.asarray(table.shape.starts), np.asarray(table.shape.ends)
    span: tuple[int, int] | None = None
    for answer in (a.strip() for a in sample.item.answers):
        # Matched in the sentence itself: lowering both sides can change lengths ("İ"), and offsets.
        found = re.search(re.escape(answer), sentence.text, re.IGNORECASE) if answer else None
        if found:
            span = (sentence.start + found.start(), sentence.start + found.end())
            break
    if span is None:
        close = [i for i, p in enumerate(proposals)
                 if p.sentence.sentence_id == sentence_id and sample.quality[i] >= CLOSE_MATCH_F1]  # fmt: skip
        if not close:
            return None
        best = proposals[max(close, key=lambda i: float(sample.quality[i]))]
        span = (best.start, best.end)
    labels = ((starts >= span[0]) & (ends <= span[1])).astype(np.int64)
    return labels if labels.any() else None


def fit_tagger(samples: Sequence[Sample], seed: int = 0) -> WordTagger:
    rows, labels = [], []
    for s in samples:
        if not s.item.answerable:
            continue
        for sid, table in s.reading.words.items():
            found = answer_words(s, sid, table)
            if found is not None:
                rows.append(table.rows)
                labels.append(found)
    if not rows:
        return WordTagger.neutral(WORD_FEATURES)
    x, y = np.vstack(rows).astype(np.float64), np.concatenate(labels)
    scaler = StandardScaler().fit(x)
    scale = np.where(scaler.scale_ > 0, scaler.scale_, 1.0)
    network = MLPClassifier(hidden_layer_sizes=(HIDDEN_UNITS,), alpha=1e-3, max_iter=300, early_stopping=True,
                            random_state=seed).fit((x - scaler.mean_) / scale, y)  # fmt: skip

    def rounded(values: npt.NDArray[np.float64]) -> list[float]:
        return [round(float(v), 6) for v in values]

    return WordTagger(list(WORD_FEATURES), rounded(scaler.mean_), rounded(scale),
                      [rounded(row) for row in network.coefs_[0]], rounded(network.intercepts_[0]),
                      rounded(network.coefs_[1][:, 0]), round(float(network.intercepts_[1][0]), 6))  # fmt: skip


def cross_fitted_word_columns(reader: Reader, samples: Sequence[Sample],
                              seed: int = 0) -> dict[int, npt.NDArray[np.float32]]:  # fmt: skip
    """Each sample's word columns (by ``id``) from a tagger fitted without its document's fold."""
    groups = sorted({s.group for s in samples})
    fold_of = {g: i % CROSS_FIT_FOLDS for i, g in enumerate(groups)}
    by_fold: dict[int, list[Sample]] = defaultdict(list)
    for s in samples:
        by_fold[fold_of[s.group]].append(s)
    columns = {}
    for fold, inside in by_fold.items():
        tagger = fit_tagger([s for s in samples if fold_of[s.group] != fold], seed)
        for s in inside:
            columns[id(s)] = reader.word_columns(s.reading, tagger)
    return columns
