"""Extractive answers with citations, and the decision to abstain.

The answer is a span of a source, never generated text. Clauses of the top passages compete
on five signals: the question's cosine with the clause and with its sentence (vectors were
computed at index time), the share of the question's terms the clause and its sentence
cover (weighted by idf), and the rank of the passage they came from. A sentence's terms
include its section heading's, and its predecessor's when it opens with an anaphor ("These
guarantees..."); a clause with a causal cue gets a small bonus for a why-question.

The winning clause is narrowed to the words that do not merely echo the question ("What
does Moscow insist Ukraine must do?" -> "cede territory"), and to its proper names when the
question asks for a name ("Which alliance...?" -> "NATO"). Such a question also takes the
best of the top few clauses that hold as many names as it asks for ("Which countries...?"
wants two), a name being a word the corpus capitalises past a sentence's start, outside
titles. An enumeration is split into items, each cited; a heading is answered by its
section, and a clause ending in a colon by what it introduces.

Abstention (``AbstentionSettings`` in ``rag.config``) is a logistic rule over answerability
signals, fitted by ``rag calibrate`` on the gold sets, with the confidence capped when the
question asks for a kind of answer (number, date, name, person, place) the answer lacks.
Left out: generative answers, multi-hop answers that join distant sentences, and any
parsing beyond punctuation (so a noun phrase inside a long clause is not isolated).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from rag.answering.citations import cite
from rag.config import AbstentionSettings, AnsweringSettings
from rag.index.lexical import LexicalIndex
from rag.index.store import IndexData
from rag.records import Citation, Clause, Passage, Sentence
from rag.text.normalize import STOPWORDS, content_terms, fold, stem, words

_LIST_SEPARATOR = re.compile(r",\s+(?:and\s+|or\s+)?")
_NUMBER = re.compile(
    r"\d|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|hundred|thousand|million|billion|dozen)s?\b", re.I
)
_DATE = re.compile(
    r"\b(?:1[89]|20)\d\d\b|\b(?:january|february|march|april|may|june|july|august|september|october|november|december|monday|tuesday|wednesday|thursday|friday|saturday|sunday|yesterday|today|week|month|year)s?\b",
    re.I,
)
_OPENING = r"(?:(?:and|so|but|then|in|on|at|from|by|since|until|of|to|for)\s+)?"
_QUANTITY = (
    r"(?:population|number|percentage|share|amount|cost|price|size|length|width|height|distance"
    r"|temperature|value|total|budget|sum)"
)
_ASKS_NUMBER = re.compile(
    _OPENING + r"(?:how (?:many|much|long|far|old|wide|tall|high|big|large|deep|often|fast)\b"
    r"|what (?:is |was |are |were )?(?:the )?" + _QUANTITY + r"\b)"
)
_ASKS_DATE = re.compile(_OPENING + r"(?:when\b|what (?:year|date|day|month|time)\b|which (?:year|date|day|month)\b)")
_ENTITY = (
    r"(?:country|countries|nation|nations|alliance|alliances|organi[sz]ations?|compan(?:y|ies)|diplomats?"
    r"|officials?|leaders?|president|ministers?|city|cities|newspapers?|publishers?|agenc(?:y|ies)|part(?:y|ies))"
)
_ASKS_NAME = re.compile(
    _OPENING + r"(?:what (?:is|was|are|were) the names? of\b|(?:which|what) (?:\w+ )?" + _ENTITY + r"\b)"
)
_ASKS_WHY = re.compile(_OPENING + r"(?:why\b|what (?:is|was|are|were) the (?:reasons?|causes?)\b|for what reason)")
_CAUSAL = re.compile(
    r"\b(?:because|since|due to|owing to|as a result|after|given|so that|in order to|for fear|lest|thanks to"
    r"|driven by|reasons?)\b",
    re.I,
)
# An anaphor within the first four words: "These guarantees...", "Chief among those...".
_ANAPHORIC = re.compile(r"\W*(?:\w+\W+){0,3}?(?:these|this|those|that|such|it|they|its|their)\b", re.I)
_ASKS_PLACE = re.compile(_OPENING + r"where\b")
_ASKS_PERSON = re.compile(_OPENING + r"who(?:m|se)?\b")
_LOCATIVE = re.compile(r"\b(?:in|at|near|outside|inside|from|to)\s+(?:the\s+)?[A-Z]")
# People and groups named by common nouns ("major international partners", "our editorial team").
_PERSON_NOUN = re.compile(
    r"\b(?:\w+(?:ers?|ors?|ists?|ians?|ents?)|people|person|team|staff|officials?|leaders?|leadership|government"
    r"|governments|allies|ally|partners?|nations?|countries|country|states?|committee|council|board|media|press)\b",
    re.I,
)
_YES_NO = re.compile(r"(?:is|are|was|were|do|does|did|can|could|will|would|should|has|have|had|may|might|must)\b", re.I)
_FOCUS_WORD = re.compile(r"\w+(?:[-'.\u2010-\u2015]\w+)*")
_BULLET = re.compile(r"(?:[-*•▪–]|\d{1,2}[.)])\s+")
PART_SEPARATOR = "; "
MAX_LIST_ITEMS = 12


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
        self.yes_no = bool(_YES_NO.match(text.strip()))
        lowered = _lowered(text)
        self.why = bool(_ASKS_WHY.match(lowered))
        self.unknown_names = [
            name for name in question_names(text) if not all(lexical.known(t) for t in content_terms(name))
        ]
        asked_name = _ASKS_NAME.match(lowered)
        # "Which countries..." and "What are the names of..." ask for several names.
        self.names_wanted = 0 if asked_name is None else 2 if re.search(r"(?:s|names of)$", asked_name.group()) else 1

    def echoes(self, word: str) -> bool:
        """Whether a (folded) word repeats the question: same stem, or one stem prefixes the
        other ("Russia"/"Russian"); a hyphenated word echoes only if all its parts do."""
        parts = [p for p in re.split(r"[-\u2010-\u2015]", word) if p]
        return bool(parts) and all(self._echoes_part(p) for p in parts)

    def _echoes_part(self, word: str) -> bool:
        if word.endswith("'s"):
            word = word[:-2]
        if word in STOPWORDS:
            return False
        root = stem(word)
        return root in self.terms or any(
            len(t) >= 4 and len(root) >= 4 and (root.startswith(t) or t.startswith(root)) for t in self.terms
        )

    def coverage(self, found: frozenset[str]) -> float:
        """Idf-weighted share of the question's terms among ``found`` (a text's content terms)."""
        return sum(w for t, w in self.terms.items() if t in found) / self.total


def _lowered(question: str) -> str:
    """Lower case with single spaces: the form the opening wh-patterns match."""
    return " ".join(question.lower().split())


def question_names(question: str) -> list[str]:
    """The folded proper names of a question: capitalised words past its first word.

    A lower-cased name ("what did zelensky say") goes unseen; that only loses a refusal."""
    names = []
    for start, _, word in _raw_words(question):
        folded = fold(word).removesuffix("'s")
        if start > 0 and word[:1].isupper() and folded not in STOPWORDS:
            names.append(folded)
    return names


def expected_type(question: str) -> str | None:
    """The kind of answer the question's opening wh-phrase asks for, when it is checkable.

    Only the opening counts ("Which provisions were removed when..." asks for provisions,
    not a date). Kinds: number, date, name (an entity such as a country or an alliance),
    person (who: a name or a noun for people or groups), place (where).
    """
    q = _lowered(question)
    for kind, pattern in (
        ("number", _ASKS_NUMBER),
        ("date", _ASKS_DATE),
        ("name", _ASKS_NAME),
        ("person", _ASKS_PERSON),
        ("place", _ASKS_PLACE),
    ):
        if pattern.match(q):
            return kind
    return None


def type_matches(expects: str | None, answer: str, question: str) -> bool:
    """Whether ``answer`` holds the kind of thing asked for. Deliberately lenient: a miss
    here caps the confidence, so it must only fire when the kind is plainly absent."""
    if expects is None:
        return True
    if expects == "number":
        return bool(_NUMBER.search(answer))
    if expects == "date":
        return bool(_DATE.search(answer))
    if expects == "place":
        return bool(_LOCATIVE.search(answer))
    asked = {w for _, _, w in words(question)}
    named = any(_capitalised(word) and fold(word) not in asked for _, _, word in _raw_words(answer))
    return named or (expects == "person" and bool(_PERSON_NOUN.search(answer)))


def _capitalised(word: str) -> bool:
    """A capitalised word that is not a function word ("The", "However"): a name, as far as
    capitalisation tells."""
    return word[:1].isupper() and fold(word) not in STOPWORDS


def _raw_words(text: str) -> list[tuple[int, int, str]]:
    return [(m.start(), m.end(), m.group()) for m in _FOCUS_WORD.finditer(text)]


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
        # Stemming is the costly part of term coverage; do it once per text, not per question.
        self._sentence_terms = [frozenset(content_terms(s.text)) for s in data.sentences]
        self._contexts_of = self._contexts()
        self._names = name_words(s.text for s in data.sentences)
        # A clause adds to its own terms whatever its sentence's context adds (heading, antecedent).
        self._clause_terms = [
            frozenset(content_terms(c.text)) | (self._contexts_of[c.sentence_id] - self._sentence_terms[c.sentence_id])
            for c in data.clauses
        ]

    def context_terms(self, sentence_id: int) -> frozenset[str]:
        return self._contexts_of[sentence_id]

    def _contexts(self) -> list[frozenset[str]]:
        """Each sentence's terms plus those of what it is about: its section heading, and its
        predecessor when it opens with an anaphor ("These guarantees are viewed as essential")."""
        contexts: list[frozenset[str]] = []
        heading: frozenset[str] = frozenset()
        for sentence in self.data.sentences:
            terms = self._sentence_terms[sentence.sentence_id]
            previous = self._previous_sentence(sentence)
            if previous is None:
                heading = frozenset()  # a new document
            if is_heading(self.data.documents[sentence.doc_id].text, sentence.start, sentence.end):
                heading = terms
            elif previous is not None and _ANAPHORIC.match(sentence.text):
                terms = terms | self._sentence_terms[previous.sentence_id]
            contexts.append(terms | heading)
        return contexts

    def _previous_sentence(self, sentence: Sentence) -> Sentence | None:
        if sentence.sentence_id == 0:
            return None
        previous = self.data.sentences[sentence.sentence_id - 1]
        return previous if previous.doc_id == sentence.doc_id else None

    def answer(self, question: str, query_vector: npt.NDArray[np.float32], passages: list[Passage]) -> Extraction:
        q = Question(question, self.lexical)
        ranked = self.rank_clauses(q, query_vector, passages)
        if not ranked:
            return Extraction("", [], 0.0, True, {})
        best = self.answer_clause(q, ranked)
        answer, citations = self.extract(q, best)
        signals = self.signals(q, best, ranked, answer)
        confidence = self.abstention.confidence(signals)
        if confidence < self.abstention.threshold:
            return Extraction("", [], round(confidence, 4), True, signals)
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
            sentence_dense = float(self.data.sentence_vectors[sid] @ query_vector)
            sentence_coverage = q.coverage(self._contexts_of[sid])
            for clause in self._clauses_of.get(sid, []):
                dense = float(self.data.clause_vectors[clause.clause_id] @ query_vector)
                coverage = q.coverage(self._clause_terms[clause.clause_id])
                score = (
                    0.30 * dense
                    + 0.20 * sentence_dense
                    + 0.25 * coverage
                    + 0.15 * sentence_coverage
                    + 0.10 * passage_prior
                )
                if q.why and _CAUSAL.search(clause.text):  # a why-question is answered by a reason
                    score += self.settings.reason_bonus
                scored.append(Scored(clause, score, max(dense, sentence_dense), max(coverage, sentence_coverage)))
        return sorted(scored, key=lambda s: -s.score)

    def answer_clause(self, q: Question, ranked: list[Scored]) -> Scored:
        """The best clause, or for a question asking for names the best of the top few that
        holds as many as it asks for ("Which countries...?" wants two or more)."""
        if q.names_wanted:
            for candidate in ranked[: self.settings.typed_candidates]:
                if title_cased(self.data.sentences[candidate.clause.sentence_id].text):
                    continue  # capitalisation in a title says nothing about names
                clause = candidate.clause
                text = self.data.documents[clause.doc_id].text
                if len(proper_names(text, clause.start, clause.end, q, self._names)) >= q.names_wanted:
                    return candidate
        return ranked[0]

    def signals(self, q: Question, best: Scored, ranked: list[Scored], answer: str) -> dict[str, float]:
        """Answerability evidence: how well the best clause matches, the best match anywhere,
        and whether the answer is of the kind asked for."""
        return {
            "dense": round(best.dense, 4),
            "coverage": round(best.coverage, 4),
            "known": round(q.known_share, 4),
            # type_match is positive evidence only: 1 when a checkable kind was asked and found.
            "type_checked": float(q.expects is not None),
            "type_match": float(q.expects is not None and type_matches(q.expects, answer, q.text)),
            # A name the sources never mention ("...of France?") means they are not about it.
            "unknown_name": float(bool(q.unknown_names)),
            "best_dense": round(max(s.dense for s in ranked), 4),
            "best_coverage": round(max(s.coverage for s in ranked), 4),
        }

    def extract(self, q: Question, best: Scored) -> tuple[str, list[Citation]]:
        """The answer text and one citation per part; parts are joined with ``; ``."""
        doc = self.data.documents[best.clause.doc_id]
        parts = self.answer_parts(q, best)
        pieces: list[str] = []
        citations: list[Citation] = []
        offset = 0
        for (start, end), (cite_start, cite_end) in parts:
            pieces.append(doc.text[start:end])
            citations.append(cite(doc, cite_start, cite_end, best.score, offset, offset + end - start))
            offset += end - start + len(PART_SEPARATOR)
        return PART_SEPARATOR.join(pieces), citations

    def answer_parts(self, q: Question, best: Scored) -> list[tuple[tuple[int, int], tuple[int, int]]]:
        """``(answer span, cited span)`` pairs for the best clause.

        A heading is answered by the section under it, and a clause that ends in a colon by
        what the colon introduces (the rest of the sentence, or the bullet list after it).
        """
        text = self.data.documents[best.clause.doc_id].text
        sentence = self.data.sentences[best.clause.sentence_id]
        if self.settings.unit == "sentence":
            return [((sentence.start, sentence.end), (sentence.start, sentence.end))]
        start, end = best.clause.start, best.clause.end
        if is_heading(text, sentence.start, sentence.end):
            body = self._next_sentence(sentence.sentence_id)
            if body is None:
                return [((start, end), (start, end))]
            sentence, (start, end) = body, (body.start, body.end)
        if introduces(text, end):
            if end < sentence.end and text[end - 1] != ":":  # "...balance several realities: A, B, and C."
                start, end = _skip_colon(text, end), sentence.end
            else:  # "...would include:" followed by bullet lines
                bullets = self._bullets_after(sentence.sentence_id)
                if bullets:
                    return [(span, span) for span in bullets]
        clause = (start, end)
        start, end = focus(text, start, end, q)
        names = self.names_in(text, (start, end), clause, q) if q.names_wanted else []
        if names:  # "Which military alliance...?" -> "NATO", not the clause that names it
            return [(name, name) for name in names] if q.names_wanted > 1 else [(names[-1], clause)]
        items = list_items(text, start, end)
        if items:
            return [(item, item) for item in items]
        return [((start, end), clause)]

    def names_in(
        self, text: str, focused: tuple[int, int], clause: tuple[int, int], q: Question
    ) -> list[tuple[int, int]]:
        """The names in the focus, or in the whole clause when the focus holds fewer than
        asked: a name is often the subject, before the words that echo the question."""
        names = proper_names(text, *focused, q, self._names)
        return names if len(names) >= q.names_wanted else proper_names(text, *clause, q, self._names)

    def _next_sentence(self, sentence_id: int) -> Sentence | None:
        following = sentence_id + 1
        if following < len(self.data.sentences):
            candidate = self.data.sentences[following]
            if candidate.doc_id == self.data.sentences[sentence_id].doc_id:
                return candidate
        return None

    def _bullets_after(self, sentence_id: int) -> list[tuple[int, int]]:
        spans: list[tuple[int, int]] = []
        while (sentence := self._next_sentence(sentence_id)) is not None:
            marker = _BULLET.match(sentence.text)
            if not marker or len(spans) >= MAX_LIST_ITEMS:
                break
            spans.append((sentence.start + marker.end(), sentence.end))
            sentence_id = sentence.sentence_id
        return spans


def is_heading(text: str, start: int, end: int) -> bool:
    """A line of its own, without final punctuation, short, and not a bullet."""
    on_own_line = (start == 0 or text[start - 1] == "\n") and (end == len(text) or text[end] in "\r\n")
    line = text[start:end]
    return on_own_line and not _BULLET.match(line) and line[-1] not in ".!?:;,\"'”’" and len(line.split()) <= 14


def introduces(text: str, end: int) -> bool:
    """Whether the span ending at ``end`` ends with, or is followed by, a colon."""
    return text[end - 1 : end] == ":" or text[end : end + 2].lstrip(" ").startswith(":")


def _skip_colon(text: str, end: int) -> int:
    position = text.index(":", end) + 1
    while position < len(text) and text[position].isspace():
        position += 1
    return position


def focus(text: str, start: int, end: int, q: Question) -> tuple[int, int]:
    """Narrow a clause to the words that answer rather than echo the question.

    The clause is cut into runs at words that echo the question, and runs are trimmed of
    function words. An enumeration wins (a list in the clause is what it says); otherwise
    the last run of two or more content words, since English puts new information last
    ("Russia considers the latest draft | a potential platform for further discussion"),
    else the longest run. A yes/no question keeps the whole clause, which is its answer; so
    does a clause with no run of content words.
    """
    if q.yes_no:
        return start, end
    runs: list[list[tuple[int, int, str]]] = [[]]
    for match in _FOCUS_WORD.finditer(fold(text[start:end])):
        if q.echoes(match.group()):
            runs.append([])
        else:
            runs[-1].append((start + match.start(), start + match.end(), match.group()))
    spans = [span for run in runs if (span := _trimmed(text, run))]
    if not spans:
        return start, end
    enumerations = [span for span in spans if list_items(text, *span)]
    if enumerations:
        return max(enumerations, key=lambda span: _content_words(text[span[0] : span[1]]))
    informative = [span for span in spans if _content_words(text[span[0] : span[1]]) >= 2]
    if informative:
        return informative[-1]
    return max(spans, key=lambda span: (_content_words(text[span[0] : span[1]]), span[0]))


def _trimmed(text: str, run: list[tuple[int, int, str]]) -> tuple[int, int] | None:
    """The run's span without function words at either end."""
    words_in = [(a, b) for a, b, _ in run if fold(text[a:b]) not in STOPWORDS]
    return (words_in[0][0], words_in[-1][1]) if words_in else None


def _content_words(span: str) -> int:
    return sum(1 for _, _, w in words(span) if w not in STOPWORDS)


def name_words(sentences: Iterable[str]) -> frozenset[str]:
    """The corpus's names, as far as capitalisation tells: folded words written capitalised
    past a sentence's first word. Title-cased lines ("Progressing Amid Rising Global
    Pressure") are skipped, since there every word is capitalised."""
    names: set[str] = set()
    for sentence in sentences:
        if not title_cased(sentence):
            names.update(fold(word) for _, _, word in _raw_words(sentence)[1:] if _capitalised(word))
    return frozenset(names)


def title_cased(text: str) -> bool:
    """Whether every content word past the first is capitalised, as in a title."""
    return all(_capitalised(word) for _, _, word in _raw_words(text)[1:] if fold(word) not in STOPWORDS)


def proper_names(text: str, start: int, end: int, q: Question, names: frozenset[str]) -> list[tuple[int, int]]:
    """Spans of runs of the corpus's ``names`` ("the United States" -> "United States") that
    do not echo the question. A capitalised word counts only if the corpus also writes it
    capitalised past a sentence's start, so "Chief among those..." holds no name."""
    found: list[tuple[int, int]] = []
    run: tuple[int, int] | None = None
    for a, b, word in _raw_words(text[start:end]):
        a, b = start + a, start + b
        is_name = _capitalised(word) and fold(word) in names and not q.echoes(fold(word))
        if is_name and run is not None and text[run[1] : a] == " ":
            run = (run[0], b)
            continue
        if run is not None:
            found.append(run)
        run = (a, b) if is_name else None
    if run is not None:
        found.append(run)
    return found


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
