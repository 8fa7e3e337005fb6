"""The reader's two scorers, fitted as one ranking model over every candidate of a question."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from rag.answering.candidates import Proposal
from rag.answering.features import FEATURES, SENTENCE_FEATURES, candidate_sentence_rows
from rag.answering.model import LinearModel
from rag.answering.question import analyse_question
from rag.answering.reader import Reading
from rag.eval.fit import fit_scorers
from rag.eval.metrics import GoldItem
from rag.eval.samples import Sample
from rag.index.lexical import LexicalIndex
from rag.records import Sentence

TEXT = "Territory remains the most contentious issue. Battles continue in the east."
SENTENCES = (Sentence(0, "doc", 0, 45, TEXT[:45]), Sentence(1, "doc", 46, len(TEXT), TEXT[46:]))
QUESTION = analyse_question("What is the most contentious issue?", LexicalIndex([TEXT]))
DENSE, FITS = FEATURES.index("sentence_dense"), FEATURES.index("type_fit")


def question(rng: np.random.Generator, answer_in: int) -> tuple[Sample, npt.NDArray[np.float32]]:
    """Three candidates in each sentence; the answer (F1 1) is the one that fits the question's type,
    in the sentence most like the question. Every other column is noise."""
    proposals = [Proposal(SENTENCES[s], ((SENTENCES[s].start, SENTENCES[s].end),), (), "subject")
                 for s in (0, 0, 0, 1, 1, 1)]  # fmt: skip
    rows = rng.normal(size=(6, len(FEATURES))).astype(np.float32)
    answer = 3 * answer_in + int(rng.integers(3))
    rows[:, DENSE] = np.where(np.arange(6) // 3 == answer_in, 0.8, 0.3)
    rows[:, FITS] = 0.0
    rows[answer, FITS] = 1.0
    quality = np.full(6, 0.0)
    quality[answer] = 1.0
    item = GoldItem(id="q", question=QUESTION.text, answers=["x"], evidence=[], kind="fact")
    reading = Reading(QUESTION, proposals, rows, {})
    return Sample(item, "doc", "news", reading, [], quality), rows


def summed(sentence: LinearModel, scorer: LinearModel, sample: Sample,
           rows: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:  # fmt: skip
    """What ``Reader.scores`` adds up: the sentence's logit and the candidate's own."""
    return sentence.logits(candidate_sentence_rows(rows, sample.reading.proposals)) + scorer.logits(rows)


def test_the_two_scorers_split_one_ranking_that_puts_the_answer_first() -> None:
    rng = np.random.default_rng(0)
    training = [question(rng, answer_in=i % 2) for i in range(60)]
    sentence, scorer = fit_scorers([s for s, _ in training], {id(s): rows for s, rows in training})
    assert sentence.features == list(SENTENCE_FEATURES) and scorer.features == list(FEATURES)
    assert sentence.coef[SENTENCE_FEATURES.index("sentence_dense")] + scorer.coef[DENSE] > 0
    assert scorer.coef[FITS] > 0
    fresh = [question(rng, answer_in=i % 2) for i in range(40)]
    first = [int(np.argmax(summed(sentence, scorer, s, rows))) == int(np.argmax(s.quality)) for s, rows in fresh]
    assert sum(first) >= 36

