"""Linear models stored as data: the candidate scorer and the abstention rule.

Both are logistic regressions fitted by ``rag fit`` (scikit-learn, ``rag.eval.fit``) and
saved as JSON against feature names, so a model is read, diffed and reviewed like config,
and applying one is a dot product (no scikit-learn at query time). A model whose feature
names differ from the code's is refused at load with a message naming the difference.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import numpy.typing as npt

PACKAGED = Path(__file__).with_name("model.json")


class LinearModel(msgspec.Struct, frozen=True):
    features: list[str]
    mean: list[float]
    scale: list[float]
    coef: list[float]
    intercept: float

    def logits(self, rows: npt.NDArray[np.floating[Any]]) -> npt.NDArray[np.float64]:
        standardised = (rows.astype(np.float64) - np.asarray(self.mean)) / np.asarray(self.scale)
        logits: npt.NDArray[np.float64] = standardised @ np.asarray(self.coef, dtype=np.float64) + self.intercept
        return logits

    def check(self, expected: tuple[str, ...], name: str) -> None:
        if tuple(self.features) != expected:
            missing = sorted(set(expected) - set(self.features))
            extra = sorted(set(self.features) - set(expected))
            raise ValueError(f"the {name} model's features differ from the code's (missing {missing}, extra {extra}): "
                             "refit it with `rag fit`")  # fmt: skip


class ReaderModel(msgspec.Struct, frozen=True):
    """The sentence and span scorers, the abstention rule and its threshold, with what they were fitted on."""

    sentence: LinearModel  # which sentence answers (over SENTENCE_FEATURES)
    scorer: LinearModel  # which span of it (over FEATURES)
    abstention: LinearModel
    threshold: float
    fitted_on: dict[str, int]  # gold set name -> questions used


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, x))))


def load_model(path: Path | str | None = None) -> ReaderModel:
    return msgspec.json.decode(Path(path or PACKAGED).read_bytes(), type=ReaderModel)


def save_model(model: ReaderModel, path: Path) -> None:
    path.write_bytes(msgspec.json.format(msgspec.json.encode(model)) + b"\n")
