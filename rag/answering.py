"""Extractive answers with citations, and the decision to abstain.

The answer is a span of a source, never generated text. Clauses of the top passages compete
on four signals: the question's cosine with the clause and with its sentence (vectors were
computed at index time), the share of the question's terms the clause and its sentence
cover (weighted by idf), and the rank of the passage they came from. The winning clause is
then narrowed to the words that do not merely echo the question ("What does Moscow insist
Ukraine must do?" -> "cede territory"); an enumeration is split into items, each cited.

Abstention is a logistic rule over signals of the best evidence (see ``Abstention``); its
weights are fitted by ``rag calibrate`` on a gold set and kept in the configuration.
Left out: generative answers, and multi-hop answers that join distant sentences.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from rag.citations import cite
from rag.config import AbstentionSettings, AnsweringSettings
from rag.lexical import LexicalIndex
from rag.records import Citation, Clause, Passage
from rag.store import IndexData
from rag.textnorm import STOPWORDS, content_terms, stem, words

_LIST_SEPARATOR = re.compile(r",\s+(?:and\s+|or\s+)?|\s+(?:and|or)\s+")
_NUMBER = re.compile(
    r"\d|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|hundred|thousand|million|billion|dozen)s?\b", re.I
)
_DATE = re.compile(
    r"\b(?:1[89]|20)\d\d\b|\b(?:january|february|march|april|may|june|july|august|september|october|november|december|monday|tuesday|wednesday|thursday|friday|saturday|sunday|yesterday|today|week|month|year)s?\b",
    re.I,
)
_NAME = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][a-z]+")


@dataclass(frozen=True)
class Scored:
    clause: Clause
    score: float
    dense: float
    coverage: float


@dataclass(frozen=True)
class Extraction:
    answer: str
    citations: list[Citation]
    confidence: float
    abstained: bool
    signals: dict[str, float]


class Question:
    """A question's terms with their idf weights, and the kind of answer it expects."""

    def __init__(self, text: str, lexical: LexicalIndex) -> None:
        self.text = text
        self.terms = {t: lexical.idf(t) for t in content_terms(text)}
        self.total = sum(self.terms.values()) or 1.0
        known = sum(w for t, w in self.terms.items() if lexical.known(t))
        self.known_share = known / self.total if self.terms else 0.0
        self.expects = expected_type(text)

    def coverage(self, text: str) -> float:
        found = set(content_terms(text))
        return sum(w for t, w in self.terms.items() if t in found) / self.total


def expected_type(question: str) -> str | None:
    q = question.lower()
    if re.search(r"\bhow (?:many|much|long|far|old)\b|\bwhat (?:number|percentage|share|amount)\b", q):
        return "number"
    if re.search(r"\bwhen\b|\bwhat (?:year|date|day|month|time)\b", q):
        return "date"
    if re.search(r"\bwho(?:m|se)?\b", q):
        return "name"
    if re.search(r"\bwhere\b", q):
        return "place"
    return None


def type_matches(expects: str | None, text: str, question: str) -> bool:
    if expects is None:
        return True
    if expects == "number":
        return bool(_NUMBER.search(text))
    if expects == "date":
        return bool(_DATE.search(text))
    asked = {w for _, _, w in words(question)}
    names = [m.group() for m in _NAME.finditer(text) if m.group().lower() not in asked]
    return bool(names)


class Answerer:
    def __init__(
        self, data: IndexData, lexical: LexicalIndex, settings: AnsweringSettings, abstention: AbstentionSettings
    ) -> None:
        self.data = data
        self.lexical = lexical
        self.settings = settings
        self.abstention = abstention
        self._clauses_of: dict[int, list[Clause]] = {}
        for clause in data.clauses:
            self._clauses_of.setdefault(clause.sentence_id, []).append(clause)
        self._chunks = {c.chunk_id: c for c in data.chunks}

    def answer(self, question: str, query_vector: npt.NDArray[np.float32], passages: list[Passage]) -> Extraction:
        q = Question(question, self.lexical)
        ranked = self.rank_clauses(q, query_vector, passages)
        if not ranked:
            return Extraction("", [], 0.0, True, {})
        best = ranked[0]
        signals = self.signals(q, best, passages)
        confidence = self.abstention.confidence(signals)
        if confidence < self.abstention.threshold:
            return Extraction("", [], round(confidence, 4), True, signals)
        answer, citations = self.extract(q, best)
        return Extraction(answer, citations, round(confidence, 4), False, signals)

    def rank_clauses(self, q: Question, query_vector: npt.NDArray[np.float32], passages: list[Passage]) -> list[Scored]:
        considered = passages[: self.settings.passages_considered]
        if not considered:
            return []
        top = considered[0].score or 1.0
        prior: dict[int, float] = {}
        for passage in considered:
            for sid in self._chunks[passage.chunk_id].sentence_ids:
                prior[sid] = max(prior.get(sid, 0.0), passage.score / top)
        scored: list[Scored] = []
        for sid, passage_prior in prior.items():
            sentence = self.data.sentences[sid]
            sentence_dense = float(self.data.sentence_vectors[sid] @ query_vector)
            sentence_coverage = q.coverage(sentence.text)
            for clause in self._clauses_of.get(sid, []):
                dense = float(self.data.clause_vectors[clause.clause_id] @ query_vector)
                coverage = q.coverage(clause.text)
                score = (
                    0.30 * dense
                    + 0.20 * sentence_dense
                    + 0.25 * coverage
                    + 0.15 * sentence_coverage
                    + 0.10 * passage_prior
                )
                scored.append(Scored(clause, score, max(dense, sentence_dense), max(coverage, sentence_coverage)))
        return sorted(scored, key=lambda s: -s.score)

    def signals(self, q: Question, best: Scored, passages: list[Passage]) -> dict[str, float]:
        sentence = self.data.sentences[best.clause.sentence_id]
        return {
            "dense": round(best.dense, 4),
            "coverage": round(best.coverage, 4),
            "known": round(q.known_share, 4),
            "type_match": float(type_matches(q.expects, sentence.text, q.text)),
            "top_dense": round(max((p.dense_score or 0.0) for p in passages), 4),
        }

    def extract(self, q: Question, best: Scored) -> tuple[str, list[Citation]]:
        doc = self.data.documents[best.clause.doc_id]
        if self.settings.unit == "sentence":
            sentence = self.data.sentences[best.clause.sentence_id]
            return sentence.text, [cite(doc, sentence.start, sentence.end, best.score, 0, len(sentence.text))]
        start, end = focus(doc.text, best.clause.start, best.clause.end, q)
        items = list_items(doc.text, start, end)
        if len(items) < 2:
            return doc.text[start:end], [cite(doc, best.clause.start, best.clause.end, best.score, 0, end - start)]
        parts: list[str] = []
        citations: list[Citation] = []
        offset = 0
        for a, b in items:
            parts.append(doc.text[a:b])
            citations.append(cite(doc, a, b, best.score, offset, offset + b - a))
            offset += b - a + 2
        return "; ".join(parts), citations


def focus(text: str, start: int, end: int, q: Question) -> tuple[int, int]:
    """The longest run of words in ``text[start:end]`` that do not echo the question.

    Runs are cut at question terms and trimmed of function words at both ends; the clause is
    kept whole when no run holds a content word.
    """
    tokens = [(start + a, start + b, w) for a, b, w in words(text[start:end])]
    runs: list[list[tuple[int, int, str]]] = [[]]
    for token in tokens:
        if token[2] not in STOPWORDS and stem(token[2]) in q.terms:
            runs.append([])
        else:
            runs[-1].append(token)
    best: tuple[int, int] | None = None
    best_weight = 0
    for run in runs:
        while run and run[0][2] in STOPWORDS:
            run.pop(0)
        while run and run[-1][2] in STOPWORDS:
            run.pop()
        weight = sum(1 for t in run if t[2] not in STOPWORDS)
        if weight > best_weight:
            best, best_weight = (run[0][0], run[-1][1]), weight
    if best is None or best == (tokens[0][0], tokens[-1][1]):
        return start, end
    return best


def list_items(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Spans of the items of an enumeration ``A, B, and C`` (at least three), else ``[]``."""
    span = text[start:end]
    if span.count(",") < 2 or not re.search(r",\s+(?:and|or)\s", span):
        return []
    items: list[tuple[int, int]] = []
    cursor = 0
    for match in _LIST_SEPARATOR.finditer(span):
        items.append((cursor, match.start()))
        cursor = match.end()
    items.append((cursor, len(span)))
    items = [(start + a, start + b) for a, b in items if span[a:b].strip()]
    return items if len(items) >= 3 else []
