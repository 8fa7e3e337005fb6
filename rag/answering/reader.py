"""The extractive reader: question analysis -> candidates -> features -> word tagger -> scorer -> span -> abstention.

Each stage is its own module (``question``, ``candidates``, ``features``, ``words``, ``model``, ``span``);
this one runs them in order and makes citations. The answer is the best-scored candidate (or the one the
best N agree on, ``[answering] consensus_candidates``); a list candidate answers with its items joined,
citing the list. Confidence is the abstention model's probability that the sources answer the question,
fitted on the same candidate scores (``rag fit``), and the reader abstains below the model's threshold.
With ``explain`` the result carries the top candidates and their features: why the winner won.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from rag.answering.abstention import (
    ABSTENTION_FEATURES,
    HEAD_ABSTENTION_FEATURES,
    abstention_row,
    best_head_confidence,
    head_confidence,
)
from rag.answering.candidates import CACHED_SENTENCES, CandidateIndex, Proposal, RowsByKey
from rag.answering.citations import cite_proposal
from rag.answering.explain import head_entry, reader_entries
from rag.answering.features import (
    COLUMN,
    FEATURE_GROUPS,
    FEATURES,
    SENTENCE_FEATURES,
    SentenceWords,
    featurise,
    sentence_of,
    sentence_rows,
)
from rag.answering.model import LinearModel, ReaderModel, WordTagger, sigmoid
from rag.answering.question import Question, analyse_question
from rag.answering.span import MAX_MARGIN, HeadReading, choose, read_with_head
from rag.answering.span_head import SpanHead
from rag.answering.words import (
    CANDIDATE_FEATURES,
    WORD_FEATURES,
    SentenceShape,
    WordTable,
    candidate_columns,
    word_tables,
)
from rag.config import AnsweringSettings
from rag.index.content import IndexData
from rag.index.lexical import LexicalIndex
from rag.records import Citation, ConsideredAnswer, Passage, Sentence

ECHO_PENALTY = 20.0
# An anaphor within the first four words ("These guarantees...") makes a sentence about its predecessor.
_WORD_COLUMNS = [COLUMN[name] for name in CANDIDATE_FEATURES]
_ANAPHORIC = re.compile(r"\W*(?:\w+\W+){0,3}?(?:these|this|those|that|such|it|they|its|their)\b", re.I)


def neutral_model() -> ReaderModel:
    """Zero weights for the code's features: what `rag fit` reads with before it has fitted anything."""

    def zeros(names: tuple[str, ...]) -> LinearModel:
        return LinearModel(list(names), [0.0] * len(names), [1.0] * len(names), [0.0] * len(names), 0.0)

    return ReaderModel(zeros(SENTENCE_FEATURES), zeros(FEATURES), WordTagger.neutral(WORD_FEATURES),
                       zeros(ABSTENTION_FEATURES), 0.5, {})  # fmt: skip


@dataclass(frozen=True)
class Extraction:
    answer: str
    citations: list[Citation]
    confidence: float
    abstained: bool
    signals: dict[str, float]
    explain: list[ConsideredAnswer] = field(default_factory=list)


@dataclass(frozen=True)
class Reading:
    """The intermediate stages for one question (what ``rag fit`` learns from)."""

    question: Question
    proposals: list[Proposal]
    features: npt.NDArray[np.float32]  # the word tagger's columns are zeros until scored (``span_rows``)
    words: dict[int, WordTable]  # sentence id -> its words' rows for the tagger


class Reader:
    def __init__(self, data: IndexData, lexical: LexicalIndex, settings: AnsweringSettings, model: ReaderModel,
                 span_head: SpanHead | None = None) -> None:  # fmt: skip
        model.sentence.check(SENTENCE_FEATURES, "sentence")
        model.scorer.check(FEATURES, "scorer")
        model.words.check(WORD_FEATURES, "word tagger")
        model.abstention.check(ABSTENTION_FEATURES, "abstention")
        if model.with_head is not None:
            model.with_head.model.check(HEAD_ABSTENTION_FEATURES, "abstention with the span head")
        self.data = data
        self.lexical = lexical
        self.settings = settings
        self.model = model
        self.span_head = span_head
        self.head_sentences = settings.span_head_sentences  # rag fit sets it on a reader opened without a head
        self.text_of = {doc_id: doc.text for doc_id, doc in data.documents.items()}
        self.candidates = CandidateIndex(data.sentences, data.candidates, self.text_of, frozenset(settings.candidates))
        self.words = lru_cache(maxsize=CACHED_SENTENCES)(self._words)
        self.shapes = lru_cache(maxsize=CACHED_SENTENCES)(self._shape)
        self.tag_words = "words" not in settings.features_off
        self.columns_off = [FEATURES.index(name) for group in settings.features_off for name in FEATURE_GROUPS[group]]
        self.clauses_of = RowsByKey((c.sentence_id for c in data.clauses), len(data.sentences))  # clause i: row i
        # Term sets are saved with the build (stemming is the costly part of term coverage) and
        # read per sentence when a question reaches it: making them all at open took 11 s at
        # 100k chunks, for the few hundred sentences a question reads.
        self.sentence_terms = lru_cache(maxsize=CACHED_SENTENCES)(data.sentence_terms.terms)
        self.context_terms = lru_cache(maxsize=CACHED_SENTENCES)(self._context)
        self.documents_terms: dict[str, frozenset[str]] = {}  # made when a question first reaches the document

    def _words(self, sentence_id: int) -> SentenceWords:
        sentence = self.data.sentences[sentence_id]
        return SentenceWords.of(self.text_of[sentence.doc_id], sentence.start, sentence.end)

    def _shape(self, sentence_id: int) -> SentenceShape:
        words, sentence = self.words(sentence_id), self.data.sentences[sentence_id]
        return SentenceShape.of(self.text_of[sentence.doc_id], words.starts, words.ends, words.words, words.stems,
                                words.stop)  # fmt: skip

    def _context(self, sentence_id: int) -> frozenset[str]:
        """Terms of what a sentence is about: its section title (two levels up) and the sentence
        before it when this one opens with an anaphor or that one leads in with a colon
        ("... just enable this option:" introduces the setting on the next line)."""
        sentence = self.data.sentences[sentence_id]
        terms: frozenset[str] = frozenset()
        context, depth = sentence.context, 0
        while context >= 0 and depth < 2:
            terms |= self.sentence_terms(context)
            context, depth = self.data.sentences[context].context, depth + 1
        previous = sentence_id - 1
        if previous >= 0 and self.data.sentences[previous].doc_id == sentence.doc_id and (
            _ANAPHORIC.match(sentence.text) or self.data.sentences[previous].text.rstrip().endswith(":")
        ):
            terms |= self.sentence_terms(previous)
        return terms

    def document_terms(self, sentence: Sentence) -> frozenset[str]:
        """The content terms of ``sentence``'s whole document."""
        found = self.documents_terms.get(sentence.doc_id)
        if found is None:
            found = self.data.sentence_terms.terms_of_rows(*self.candidates.document_rows(sentence))
            self.documents_terms[sentence.doc_id] = found
        return found

    def read(self, question: str, query_vector: npt.NDArray[np.float32], passages: list[Passage]) -> Reading:
        q = analyse_question(question, self.lexical)
        considered = passages[: self.settings.passages_considered]
        priors = self.candidates.sentence_priors(considered, self.data.chunks_by_id)
        # Only the sentences that match best (cosine plus term coverage) get candidates: the
        # right sentence is among the top 8 of them for 93% of the gold questions, and fewer
        # candidates are both faster and easier to rank.
        dense = self.data.sentence_vectors[list(priors)] @ query_vector if priors else np.zeros(0)
        found = {sid: self.sentence_terms(sid) | self.context_terms(sid) for sid in priors}
        q.weigh_locally(list(found.values()))
        match = {sid: float(d) + q.coverage(found[sid]) for sid, d in zip(priors, dense, strict=True)}
        kept = sorted(match, key=lambda sid: -match[sid])[: self.settings.sentences_considered]
        proposals = self.candidates.propose(q, {sid: priors[sid] for sid in kept})
        sentence_ids = sorted({p.sentence.sentence_id for p in proposals})
        rows = featurise(q, proposals, self.text_of, self.words, self.similarities(sentence_ids, query_vector),
                         self.sentence_terms, self.context_terms, self.document_terms)  # fmt: skip
        rows[:, self.columns_off] = 0.0
        return Reading(q, proposals, rows, self.word_tables(q, proposals, rows) if self.tag_words else {})

    def word_tables(self, q: Question, proposals: list[Proposal],
                    rows: npt.NDArray[np.float32]) -> dict[int, WordTable]:  # fmt: skip
        """The tagger's rows for the words of each candidate sentence, with the candidates that hold them."""
        fitting, argument = COLUMN["type_fit"], COLUMN["head_in_question"]
        holders: dict[int, list[tuple[Proposal, bool, bool]]] = {}
        for p, row in zip(proposals, rows, strict=True):
            holders.setdefault(p.sentence.sentence_id, []).append((p, bool(row[fitting]), bool(row[argument])))
        ids = [sid for sid in holders if self.shapes(sid).words]
        tables = word_tables(q, [self.shapes(sid) for sid in ids], [holders[sid] for sid in ids])
        return dict(zip(ids, tables, strict=True))

    @staticmethod
    def word_columns(reading: Reading, tagger: WordTagger) -> npt.NDArray[np.float32]:
        """The candidates' ``CANDIDATE_FEATURES`` under ``tagger``: the words of every candidate
        sentence are tagged in one pass."""
        if not reading.words:
            return np.zeros((len(reading.proposals), len(CANDIDATE_FEATURES)), dtype=np.float32)
        probabilities = tagger.probabilities(np.vstack([table.rows for table in reading.words.values()]))
        edges = np.cumsum([len(table.rows) for table in reading.words.values()])[:-1]
        by_sentence = dict(zip(reading.words, np.split(probabilities, edges), strict=True))
        return candidate_columns(reading.proposals, reading.words, by_sentence)

    def span_rows(self, reading: Reading, model: ReaderModel | None = None,
                  words: npt.NDArray[np.float32] | None = None) -> npt.NDArray[np.float32]:  # fmt: skip
        """The candidates' ``FEATURES`` with the word tagger's columns filled (or given: ``rag fit``
        passes columns from taggers that did not see the question's document)."""
        rows = reading.features.copy()
        if words is None and reading.words:
            words = self.word_columns(reading, (model or self.model).words)
        if words is not None:
            rows[:, _WORD_COLUMNS] = words
        return rows

    def scores(self, reading: Reading, model: ReaderModel | None = None,
               rows: npt.NDArray[np.float32] | None = None) -> npt.NDArray[np.float64]:  # fmt: skip
        """Each candidate's score: its sentence's score plus its own score within the sentence
        (``rows``: the candidates' ``span_rows``, made here when not given)."""
        model = model or self.model
        rows = self.span_rows(reading, model) if rows is None else rows
        candidates_sentence = sentence_of(reading.proposals)
        sentences, table = sentence_rows(rows, candidates_sentence)
        sentence_score = model.sentence.logits(table)
        span_score = model.scorer.logits(rows)
        # An answer never only repeats the question ("Where did the Falcon land?" -> not "Falcon").
        echo_only = reading.features[:, COLUMN["echo_share"]] >= 1.0
        penalty = ECHO_PENALTY * echo_only
        return sentence_score[np.searchsorted(sentences, candidates_sentence)] + span_score - penalty

    def similarities(
        self, sentence_ids: list[int], query_vector: npt.NDArray[np.float32]
    ) -> dict[int, dict[str, float]]:
        """Cosines of the question with each sentence, its section title, the sentence before it
        (a question line in an FAQ, a lead-in to a list) and its best clause."""
        sentences, vectors = self.data.sentences, self.data.sentence_vectors
        found: dict[int, dict[str, float]] = {}
        for sid in sentence_ids:
            sentence = sentences[sid]
            previous = sid - 1 if sid > 0 and sentences[sid - 1].doc_id == sentence.doc_id else -1
            clauses = self.clauses_of.rows(sid)
            found[sid] = {
                "sentence_dense": float(vectors[sid] @ query_vector),
                "context_dense": float(vectors[sentence.context] @ query_vector) if sentence.context >= 0 else 0.0,
                "previous_dense": float(vectors[previous] @ query_vector) if previous >= 0 else 0.0,
                "clause_dense": float((self.data.clause_vectors[clauses] @ query_vector).max()) if clauses else 0.0,
            }
        return found

    def abstention_row(self, reading: Reading, logits: npt.NDArray[np.float64],
                       passages: list[Passage]) -> npt.NDArray[np.float32]:  # fmt: skip
        return abstention_row(reading.question, reading.proposals, reading.features, logits, passages)

    def answer(self, question: str, query_vector: npt.NDArray[np.float32], passages: list[Passage],
               explain: bool = False) -> Extraction:  # fmt: skip
        reading = self.read(question, query_vector, passages)
        if not reading.proposals:
            return Extraction("", [], 0.0, True, {})
        rows = self.span_rows(reading)
        logits = self.scores(reading, rows=rows)
        best = choose(logits, reading.proposals, self.settings.consensus_candidates)
        signals_row = self.abstention_row(reading, logits, passages)
        abstention_logit = float(self.model.abstention.logits(signals_row[None, :])[0])
        confidence, threshold = sigmoid(abstention_logit), self.model.threshold
        signals = {name: round(float(v), 4) for name, v in zip(ABSTENTION_FEATURES, signals_row, strict=True)}
        trace = reader_entries(reading.proposals, self.text_of, rows, logits) if explain else []
        head = self.span_head if self.head_sentences > 0 else None
        rule = self.model.with_head if head is not None else None
        headed: HeadReading | None = None
        read = False
        if head is not None and rule is not None:  # the head reads before the refusal: its margin is evidence too
            # A question no margin could save is refused unread, at the best confidence it could have had.
            confidence, threshold = best_head_confidence(rule, abstention_logit, MAX_MARGIN), rule.threshold
            if confidence >= threshold:
                headed, read = self.head_reading(head, question, reading, logits), True
                confidence = head_confidence(rule, abstention_logit, headed.margin if headed else 0.0)
        if confidence < threshold and self.settings.abstain:
            return Extraction("", [], round(confidence, 4), True, signals, trace)
        if head is not None and not read:
            headed = self.head_reading(head, question, reading, logits)
        chosen, logit = reading.proposals[best], float(logits[best])
        if headed is not None:
            signals["head_margin"] = round(headed.margin, 4)
            chosen, logit = headed.choice.proposal, headed.choice.logit
            trace = [head_entry(headed.choice, self.text_of[chosen.sentence.doc_id]), *trace] if explain else []
        answer, citations = self.cite(chosen, sigmoid(logit))
        return Extraction(answer, citations, round(confidence, 4), False, signals, trace)

    def head_reading(self, head: SpanHead, question: str, reading: Reading,
                     logits: npt.NDArray[np.float64]) -> HeadReading | None:  # fmt: skip
        return read_with_head(head, question, reading.proposals, logits, self.head_sentences,
                              self.settings.span_head_weight, self.settings.span_head_vote,
                              self.settings.span_head_read_ahead)  # fmt: skip

    def cite(self, proposal: Proposal, score: float) -> tuple[str, list[Citation]]:
        return cite_proposal(self.data.documents[proposal.sentence.doc_id], proposal, score)
