"""Fitting the word tagger (``rag.answering.words``): which words of the answer's sentence are the answer.

The words are labelled by the gold answers (``rag.eval.samples.answer_words``); only the sentences
that hold the answer are read: the tagger says where in a sentence the answer lies, and the
sentence scorer says which sentence.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler

from rag.answering.model import WordTagger
from rag.answering.reader import Reader
from rag.answering.words import WORD_FEATURES
from rag.eval.samples import Sample

HIDDEN_UNITS = 32
# One network's fit moved with its seed (early stopping on a random tenth of the words): on a third
# of the documents held out, two seeds' logits differed by 0.55-0.83 on average, and the model
# test's held-out F1 moved by up to 0.009 with that seed alone. The mean of three networks tags held-out
# sentences better (AUROC within a sentence .80-.81 against .78-.80) and answers better held out (F1
# .3818 against .3785 at seed 0). A strong weight penalty (alpha 3) steadied one network but tagged
# worse within a sentence and cost 0.012 F1 held out (eval/EXPERIMENTS.md, eval/tagger_spread.py).
NETWORKS = 3
ALPHA = 1e-3
BATCH_SIZE = 200
# Folds of documents for the word columns the scorers learn from: each fold's columns come
# from a tagger fitted on the other folds' documents.
CROSS_FIT_FOLDS = 3


def labelled_words(samples: Sequence[Sample]) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]:
    """The word rows of the sentences that hold each sample's answer, and their labels."""
    found = [(s.reading.words[sid].rows, labels) for s in samples for sid, labels in s.answer_words.items()]
    if not found:
        return np.zeros((0, len(WORD_FEATURES))), np.zeros(0, dtype=np.int64)
    return np.vstack([rows for rows, _ in found]).astype(np.float64), np.concatenate([labels for _, labels in found])


def fit_tagger(samples: Sequence[Sample], seed: int = 0, networks: int = NETWORKS, alpha: float = ALPHA) -> WordTagger:
    """``networks`` networks fitted from seeds ``seed * networks`` onwards, their logits averaged."""
    x, y = labelled_words(samples)
    if not len(y):
        return WordTagger.neutral(WORD_FEATURES)
    scaler = StandardScaler().fit(x)
    scale = np.where(scaler.scale_ > 0, scaler.scale_, 1.0)
    standardised = (x - scaler.mean_) / scale
    fitted = [MLPClassifier(hidden_layer_sizes=(HIDDEN_UNITS,), alpha=alpha, batch_size=BATCH_SIZE, max_iter=300,
                            early_stopping=True, random_state=seed * networks + k).fit(standardised, y)
              for k in range(networks)]  # fmt: skip
    return averaged(fitted, scaler.mean_, scale)


def averaged(networks: Sequence[MLPClassifier], mean: npt.NDArray[np.float64],
             scale: npt.NDArray[np.float64]) -> WordTagger:  # fmt: skip
    """One tagger whose logit is the mean of the networks' (fitted on rows standardised by ``mean``
    and ``scale``): all their hidden units side by side, each network's output weights divided by
    their number."""

    def rounded(values: npt.NDArray[np.float64]) -> list[float]:
        return [round(float(v), 6) for v in values]

    hidden = np.hstack([n.coefs_[0] for n in networks])
    output = np.concatenate([n.coefs_[1][:, 0] for n in networks]) / len(networks)
    output_bias = float(np.mean([n.intercepts_[1][0] for n in networks]))
    return WordTagger(list(WORD_FEATURES), rounded(mean), rounded(scale), [rounded(row) for row in hidden],
                      rounded(np.concatenate([n.intercepts_[0] for n in networks])), rounded(output),
                      round(output_bias, 6))  # fmt: skip


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
