"""Gold questions with what the reader saw: the samples ``rag fit`` learns from.

For every gold question: the retrieved passages, the reader's stages up to the features
(``Reader.read``), and each candidate's token F1 with the gold answers (its label).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from rag.answering.reader import Reading
from rag.engine.service import QAService
from rag.eval.metrics import GoldItem, token_f1
from rag.records import Passage


@dataclass(frozen=True)
class Sample:
    """One gold question with what the reader saw: candidates, their features and labels."""

    item: GoldItem
    group: str  # the document it is about: the unit held out
    genre: str
    reading: Reading
    passages: list[Passage]
    quality: npt.NDArray[np.float64]  # token F1 of each candidate with the gold answers


def collect(service: QAService, items: Sequence[GoldItem], group: Callable[[GoldItem], str],
            genre: Callable[[GoldItem], str]) -> list[Sample]:  # fmt: skip
    reader = service.answerer
    samples = []
    for item in items:
        vector = service.embed_question(item.question)
        passages = service.retriever.search(item.question, vector, service.settings.answering.passages_considered)
        reading = reader.read(item.question, vector, passages)
        quality = np.zeros(len(reading.proposals))
        if item.answerable:
            quality = np.array([token_f1(p.answer(reader.text_of[p.sentence.doc_id]), item.answers)
                                for p in reading.proposals])  # fmt: skip
        samples.append(Sample(item, group(item), genre(item), reading, passages, quality))
    return samples
