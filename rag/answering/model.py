"""The reader's models stored as data: the sentence and span scorers, the word tagger and the abstention rule.

The scorers and the abstention rule are logistic regressions, the word tagger a network with
one hidden layer; all are fitted by ``rag fit`` (scikit-learn, ``rag.eval.fit``) and saved as
JSON against feature names, so a model is read, diffed and reviewed like config, and applying
one is a few matrix products (no scikit-learn at query time). A model whose feature
names differ from the code's is refused at load with a message naming the difference.
"""

from __future__ import annotations

import math
from functools import cached_property
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import numpy.typing as npt

PACKAGED = Path(__file__).with_name("model.json")


def check_features(actual: list[str], expected: tuple[str, ...], name: str) -> None:
    """Refuse a model whose feature names are not the code's, naming the difference."""
    if tuple(actual) != expected:
        missing = sorted(set(expected) - set(actual))
        extra = sorted(set(actual) - set(expected))
        raise ValueError(f"the {name} model's features differ from the code's (missing {missing}, extra {extra}): "
                         "refit it with `rag fit`")  # fmt: skip


# The models keep their weights as arrays too (``arrays``, made at first use): a list made an array
# at every call took half the tagger's time (44 of 90 us a question). ``dict=True`` lets a frozen
# struct hold them; only the fields are encoded, compared and saved.
class LinearModel(msgspec.Struct, frozen=True, dict=True):
    features: list[str]
    mean: list[float]
    scale: list[float]
    coef: list[float]
    intercept: float

    @cached_property
    def arrays(self) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        return np.asarray(self.mean), np.asarray(self.scale), np.asarray(self.coef, dtype=np.float64)

    def logits(self, rows: npt.NDArray[np.floating[Any]]) -> npt.NDArray[np.float64]:
        mean, scale, coef = self.arrays
        standardised = (rows.astype(np.float64) - mean) / scale
        logits: npt.NDArray[np.float64] = standardised @ coef + self.intercept
        return logits

    def check(self, expected: tuple[str, ...], name: str) -> None:
        check_features(self.features, expected, name)


class WordTagger(msgspec.Struct, frozen=True, dict=True):
    """A network with one hidden layer (ReLU) giving each word the probability of being in the
    answer (``rag.answering.words``); fitted by scikit-learn's MLPClassifier (several, whose
    logits are averaged by laying their hidden units side by side: ``rag.eval.words``), applied here."""

    features: list[str]
    mean: list[float]
    scale: list[float]
    hidden: list[list[float]]  # features x hidden units
    hidden_bias: list[float]
    output: list[float]
    output_bias: float

    @cached_property
    def arrays(self) -> tuple[npt.NDArray[np.float64], ...]:
        return tuple(np.asarray(v) for v in (self.mean, self.scale, self.hidden, self.hidden_bias, self.output))

    def probabilities(self, rows: npt.NDArray[np.floating[Any]]) -> npt.NDArray[np.float64]:
        if not self.hidden:  # the neutral tagger: no word is more likely than another
            return np.full(len(rows), 0.5)
        mean, scale, weights, bias, output = self.arrays
        standardised = (rows.astype(np.float64) - mean) / scale
        hidden = np.maximum(standardised @ weights + bias, 0.0)
        logits = np.clip(hidden @ output + self.output_bias, -30.0, 30.0)
        probabilities: npt.NDArray[np.float64] = 1.0 / (1.0 + np.exp(-logits))
        return probabilities

    def check(self, expected: tuple[str, ...], name: str) -> None:
        check_features(self.features, expected, name)

    @classmethod
    def neutral(cls, features: tuple[str, ...]) -> WordTagger:
        """The tagger before any fit: every word equally likely (``probabilities`` gives 0.5)."""
        return cls(list(features), [], [], [], [], [], 0.0)


class HeadAbstention(msgspec.Struct, frozen=True):
    """The abstention rule once the span head has read (``rag.answering.abstention``), and its threshold."""

    model: LinearModel  # over HEAD_ABSTENTION_FEATURES: the reader's abstention logit, the head's best margin
    threshold: float


class ReaderModel(msgspec.Struct, frozen=True):
    """The sentence and span scorers, the word tagger, the abstention rule and its threshold, and
    what they were fitted on."""

    sentence: LinearModel  # which sentence answers (over SENTENCE_FEATURES)
    scorer: LinearModel  # which span of it (over FEATURES)
    words: WordTagger  # which words of a sentence are the answer (two of the scorer's features)
    abstention: LinearModel
    threshold: float
    fitted_on: dict[str, int]  # gold set name -> questions used
    with_head: HeadAbstention | None = None  # used instead of abstention + threshold when the span head is on


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, x))))


def load_model(path: Path | str | None = None) -> ReaderModel:
    return msgspec.json.decode(Path(path or PACKAGED).read_bytes(), type=ReaderModel)


def save_model(model: ReaderModel, path: Path) -> None:
    path.write_bytes(msgspec.json.format(msgspec.json.encode(model)) + b"\n")
