"""Gold questions with what the reader saw: the samples ``rag fit`` learns from.

For every gold question: the retrieved passages, the reader's stages up to the features
(``Reader.read``), and each candidate's token F1 with the gold answers (its label).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import numpy.typing as npt

from rag.answering.reader import Reading
from rag.answering.words import WordTable
from rag.engine.service import QAService
from rag.eval.metrics import GoldItem, token_f1
from rag.records import Passage

CLOSE_MATCH_F1 = 0.8


@dataclass(frozen=True)
class Sample:
    """One gold question with what the reader saw: candidates, their features and labels."""

    item: GoldItem
    group: str  # the document it is about: the unit held out
    genre: str
    reading: Reading
    passages: list[Passage]
    quality: npt.NDArray[np.float64]  # token F1 of each candidate with the gold answers

    @cached_property
    def answer_words(self) -> dict[int, npt.NDArray[np.int64]]:
        """The word tagger's labels (``answer_words``) by sentence id, for the sentences that hold the
        answer; computed once, since every fold's taggers read them."""
        if not self.item.answerable:
            return {}
        found = {sid: answer_words(self, sid, table) for sid, table in self.reading.words.items()}
        return {sid: labels for sid, labels in found.items() if labels is not None}


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


def answer_words(sample: Sample, sentence_id: int, table: WordTable) -> npt.NDArray[np.int64] | None:
    """1 for the words of the gold answer in this sentence, or None when it holds none: the words of
    the first gold answer found (ignoring case) in the sentence, else the words of the sentence's best
    candidate when it matches a gold answer closely (token F1 >= ``CLOSE_MATCH_F1``)."""
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
