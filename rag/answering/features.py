"""Features of answer candidates: general evidence, no word lists about any topic.

Every feature is a number a reader would weigh on any document: how well the candidate's
sentence matches the question (cosine, idf-weighted term coverage, its section title's
coverage, the passage's rank), whether the candidate is of the kind asked for (an entity of
a fitting type, a list for a list question, a clause with a causal cue for a why-question),
how much of it only repeats the question, how close it sits to the question's words, and
whether it depends on one of the question's words (the object of the question's verb).
``FEATURES`` names the columns; the scorer's weights are stored against these names.
"""

from __future__ import annotations

import itertools
import math
import re
from bisect import bisect_left, bisect_right
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from rag.answering.candidates import Proposal
from rag.answering.question import Question
from rag.answering.words import CANDIDATE_FEATURES
from rag.text.normalize import STOPWORDS, content_terms, fold, stem

KINDS = ("sentence", "focus", "list", "entity", "subject", "object", "complement", "oblique", "apposition",
         "noun_phrase", "literal", "cell")  # fmt: skip
_CAUSAL = re.compile(
    r"\b(?:because|since|due to|owing to|as a result|so that|in order to|so as to|to avoid|to prevent|to allow"
    r"|to make|to ensure|reasons?|otherwise|thus|therefore|hence)\b",
    re.I,
)
_WORD = re.compile(r"\w+(?:[-'.]\w+)*")

FEATURES: tuple[str, ...] = (
    "sentence_dense", "sentence_coverage", "context_coverage", "passage_prior", "sentence_rank",
    "echo_share", "novel_words", "length", "length_share", "distance", "after_match",
    "type_fit", "type_miss", "entity_for_open", "head_in_question", "causal_for_why", "list_for_list",
    "list_not_wanted", "sentence_for_how", "definition_block", "table_row", "code",
    "contains_echo", "after_last_match", "adjacent_after_match", "position",
    "context_dense", "previous_dense", "clause_dense", "header_match", "beside_type_noun",
    "bigram_coverage", "rarest_match",
    *(f"kind_{k}" for k in KINDS),
    *(f"why_{k}" for k in ("sentence", "focus", "oblique")),
    *(f"how_{k}" for k in ("sentence", "focus")),
    *(f"def_{k}" for k in ("sentence", "complement", "focus")),
    *CANDIDATE_FEATURES,  # filled at scoring time from the word tagger (rag.answering.words)
)  # fmt: skip
COLUMN = {name: i for i, name in enumerate(FEATURES)}
# The features by the evidence they weigh: what `[answering] features_off` leaves out (as zeros,
# so a model's columns stay the same) and `rag fit --ablations` measures one group at a time.
FEATURE_GROUPS: dict[str, tuple[str, ...]] = {
    "dense": ("sentence_dense", "context_dense", "previous_dense", "clause_dense"),
    "terms": ("sentence_coverage", "context_coverage", "bigram_coverage", "rarest_match", "echo_share", "novel_words",
              "contains_echo", "header_match", "head_in_question"),
    "position": ("passage_prior", "sentence_rank", "distance", "after_match", "after_last_match",
                 "adjacent_after_match", "position"),
    "answer_type": ("type_fit", "type_miss", "entity_for_open", "causal_for_why", "list_for_list", "list_not_wanted",
                    "sentence_for_how", "beside_type_noun",
                    *(n for n in FEATURES if n.startswith(("why_", "how_", "def_")))),
    "shape": ("length", "length_share", "definition_block", "table_row", "code",
              *(n for n in FEATURES if n.startswith("kind_"))),
    "words": CANDIDATE_FEATURES,
}  # fmt: skip
# What chooses the sentence: its match with the question, and whether it holds a fitting candidate.
SENTENCE_FEATURES: tuple[str, ...] = (
    "sentence_dense", "sentence_coverage", "context_coverage", "passage_prior", "sentence_rank",
    "definition_block", "table_row", "code", "type_fit", "list_for_list", "causal_for_why", "head_in_question",
    "context_dense", "previous_dense", "clause_dense", "header_match", "bigram_coverage", "rarest_match",
)  # fmt: skip
_SENTENCE_COLUMNS = [COLUMN[name] for name in SENTENCE_FEATURES]


def sentence_rows(rows: npt.NDArray[np.float32], sentence_of: npt.NDArray[np.int64]
                  ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:  # fmt: skip
    """The distinct sentences of the candidates and, for each, ``SENTENCE_FEATURES``: sentence-level
    values, and the best candidate-level values (a fitting entity, a list, a cause) within it."""
    if not len(sentence_of):
        return sentence_of.copy(), np.zeros((0, len(SENTENCE_FEATURES)), dtype=np.float32)
    order = np.argsort(sentence_of, kind="stable")
    grouped = sentence_of[order]
    starts = np.flatnonzero(np.concatenate(([True], grouped[1:] != grouped[:-1])))
    return grouped[starts], np.maximum.reduceat(rows[order][:, _SENTENCE_COLUMNS], starts, axis=0)


def bigram_share(q: Question, stems: list[str], stop: list[bool]) -> float:
    """The share of the question's adjacent content-word pairs that are adjacent here too."""
    if not q.bigrams:
        return 0.0
    content = [word for word, is_stop in zip(stems, stop, strict=True) if not is_stop]
    return len(q.bigrams.intersection(itertools.pairwise(content))) / len(q.bigrams)


def word_spans(text: str, start: int, end: int) -> list[tuple[int, int, str]]:
    return [(start + m.start(), start + m.end(), m.group()) for m in _WORD.finditer(fold(text[start:end]))]


@dataclass(frozen=True)
class SentenceWords:
    """A sentence's words (sorted spans) with their stems and stop-word flags: the same for
    every question, so the reader keeps them (``Reader.words``)."""

    starts: list[int]
    ends: list[int]
    words: list[str]
    stems: list[str]
    stop: list[bool]

    @classmethod
    def of(cls, text: str, start: int, end: int) -> SentenceWords:
        spans = word_spans(text, start, end)
        words = [w for _, _, w in spans]
        return cls([a for a, _, _ in spans], [b for _, b, _ in spans], words, [stem(w) for w in words],
                   [w in STOPWORDS for w in words])  # fmt: skip


@dataclass(frozen=True)
class _SentenceView:
    """A sentence's words with which of them echo the question, computed once per question."""

    starts: list[int]
    ends: list[int]
    stems: list[str]
    echo: list[bool]
    stop: list[bool]
    matched: list[tuple[int, int]]
    coverage: float
    context_coverage: float
    bigram_coverage: float
    rarest_match: float

    @classmethod
    def of(cls, words: SentenceWords, q: Question, cache: dict[str, bool], coverage: float,
           context_coverage: float, rarest_match: float) -> _SentenceView:  # fmt: skip
        echo = []
        for word in words.words:
            if word not in cache:
                cache[word] = q.echoes(word)
            echo.append(cache[word])
        matched = [(a, b) for a, b, e in zip(words.starts, words.ends, echo, strict=True) if e]
        return cls(words.starts, words.ends, words.stems, echo, words.stop, matched, coverage, context_coverage,
                   bigram_share(q, words.stems, words.stop), rarest_match)  # fmt: skip

    def inside(self, parts: tuple[tuple[int, int], ...]) -> list[int]:
        """Indexes of the words lying wholly inside the parts."""
        found: list[int] = []
        for a, b in parts:
            found += range(bisect_left(self.starts, a), bisect_right(self.ends, b))
        return found

    def counts(self, parts: tuple[tuple[int, int], ...]) -> tuple[int, int, int]:
        """Words, content words and content words echoing the question, inside the parts."""
        inside = self.inside(parts)
        content = [i for i in inside if not self.stop[i]]
        return len(inside), len(content), sum(self.echo[i] for i in content)


def featurise(
    q: Question,
    proposals: list[Proposal],
    text_of: dict[str, str],
    words_of: Callable[[int], SentenceWords],
    sentence_dense: dict[int, dict[str, float]],
    sentence_terms: Callable[[int], frozenset[str]],
    context_terms: Callable[[int], frozenset[str]],
) -> npt.NDArray[np.float32]:
    """One row of ``FEATURES`` per proposal.

    Rows are built as Python lists and converted once, and a sentence's own values are computed
    once and copied per row: setting ~40 numpy scalars a candidate made the answer stage ~15%
    slower (1.84 against 1.51 ms on the article's questions)."""
    ranked = sorted(sentence_dense, key=lambda sid: -sentence_dense[sid]["sentence_dense"])
    rank_of = {sid: i for i, sid in enumerate(ranked)}
    echo_of: dict[str, bool] = {}
    sentences: dict[int, tuple[_SentenceView, list[float]]] = {}
    # The question's kind picks which "<why|how|def>_<candidate kind>" column a candidate kind sets.
    kind_column = {k: COLUMN[f"{prefix}_{k}"] for prefix, kind, kinds in _KIND_COLUMNS if q.kind == kind for k in kinds}
    open_question = q.kind in ("thing", "other")
    rows: list[list[float]] = []
    for p in proposals:
        s = p.sentence
        text = text_of[s.doc_id]
        known = sentences.get(s.sentence_id)
        if known is None:
            found = sentence_terms(s.sentence_id) | context_terms(s.sentence_id)
            view = _SentenceView.of(
                words_of(s.sentence_id), q, echo_of, q.coverage(found),
                q.coverage(context_terms(s.sentence_id)), q.rarest_share(found),
            )  # fmt: skip
            rank = rank_of.get(s.sentence_id, len(ranked))
            base = _sentence_values(view, s.kind, sentence_dense[s.sentence_id], rank)
            known = sentences[s.sentence_id] = (view, base)
        view, base = known
        row = base.copy()
        # Only the sentence's own words count: list items after a lead-in count as none (so the
        # echo penalty drops them); counting the items' words measured worse held out (.325 vs .357).
        words, content, echo = view.counts(p.parts)
        row[_PASSAGE_PRIOR] = p.prior
        row[_ECHO_SHARE] = echo / content if content else 1.0
        row[_NOVEL_WORDS] = math.log1p(content - echo)
        row[_LENGTH] = math.log1p(words)
        row[_LENGTH_SHARE] = words / max(1, len(view.starts))
        if view.matched:
            row[_DISTANCE] = min(1.0, min(max(0, a - p.end, p.start - b) for a, b in view.matched) / 200.0)
            row[_AFTER_MATCH] = float(p.start >= view.matched[0][1])
            before = [b for a, b in view.matched if b <= p.start]
            row[_AFTER_LAST_MATCH] = float(p.start >= view.matched[-1][1])
            row[_ADJACENT_AFTER_MATCH] = float(bool(before) and p.start - before[-1] <= 12)
        else:
            row[_DISTANCE] = 1.0
        if q.type_nouns:  # "the directory `/var/cache`", "the ``bit_length`` method"
            first = bisect_left(view.starts, p.start)
            last = bisect_left(view.starts, p.end)
            beside = view.stems[max(0, first - 2) : first] + view.stems[last : last + 2]
            row[_BESIDE_TYPE_NOUN] = float(not q.type_nouns.isdisjoint(beside))
        row[_CONTAINS_ECHO] = float(echo > 0)
        row[_POSITION] = (p.start - s.start) / max(1, s.end - s.start)
        fits = p.kind == "entity" and p.label in q.labels
        row[_TYPE_FIT] = float(fits)
        row[_TYPE_MISS] = float(bool(q.labels) and not fits)
        row[_ENTITY_FOR_OPEN] = float(p.kind == "entity" and open_question)
        row[_HEAD_IN_QUESTION] = float(bool(p.head) and stem(p.head) in q.terms)
        answer_text = " ".join(text[a:b] for a, b in p.parts)
        row[_CAUSAL_FOR_WHY] = float(q.kind == "reason" and bool(_CAUSAL.search(answer_text)))
        is_list = p.kind == "list" or ("," in answer_text and (" and " in answer_text or " or " in answer_text))
        row[_LIST_FOR_LIST] = float(q.wants_list and is_list)
        row[_LIST_NOT_WANTED] = float(not q.wants_list and p.kind == "list")
        row[_SENTENCE_FOR_HOW] = float(q.kind == "manner" and p.kind == "sentence")
        row[_KIND_COLUMN[p.kind]] = 1.0
        if p.kind == "cell" and p.label:  # the cell's column header names what the question asks
            row[_HEADER_MATCH] = q.coverage(frozenset(content_terms(p.label)))
        if p.kind in kind_column:
            row[kind_column[p.kind]] = 1.0
        rows.append(row)
    return np.array(rows, dtype=np.float32).reshape(len(rows), len(FEATURES))


def _sentence_values(view: _SentenceView, kind: str, dense: dict[str, float], rank: int) -> list[float]:
    """A row with the values every candidate of the sentence shares."""
    row = [0.0] * len(FEATURES)
    for name, value in dense.items():
        row[COLUMN[name]] = value
    row[_SENTENCE_COVERAGE] = view.coverage
    row[_CONTEXT_COVERAGE] = view.context_coverage
    row[_BIGRAM_COVERAGE] = view.bigram_coverage
    row[_RAREST_MATCH] = view.rarest_match
    row[_SENTENCE_RANK] = 1.0 / (1.0 + rank)
    row[_DEFINITION_BLOCK] = float(kind == "definition")
    row[_TABLE_ROW] = float(kind == "table_row")
    row[_CODE] = float(kind == "code")
    return row


_KIND_COLUMNS = (("why", "reason", ("sentence", "focus", "oblique")), ("how", "manner", ("sentence", "focus")),
                 ("def", "definition", ("sentence", "complement", "focus")))  # fmt: skip
_KIND_COLUMN = {k: COLUMN[f"kind_{k}"] for k in KINDS}
(_SENTENCE_COVERAGE, _CONTEXT_COVERAGE, _BIGRAM_COVERAGE, _RAREST_MATCH, _PASSAGE_PRIOR, _SENTENCE_RANK, _ECHO_SHARE,
 _NOVEL_WORDS, _LENGTH, _LENGTH_SHARE, _DISTANCE, _AFTER_MATCH, _AFTER_LAST_MATCH, _ADJACENT_AFTER_MATCH,
 _BESIDE_TYPE_NOUN, _CONTAINS_ECHO, _POSITION, _TYPE_FIT, _TYPE_MISS, _ENTITY_FOR_OPEN, _HEAD_IN_QUESTION,
 _CAUSAL_FOR_WHY, _LIST_FOR_LIST, _LIST_NOT_WANTED, _SENTENCE_FOR_HOW, _DEFINITION_BLOCK, _TABLE_ROW, _CODE,
 _HEADER_MATCH) = (COLUMN[name] for name in (
    "sentence_coverage", "context_coverage", "bigram_coverage", "rarest_match", "passage_prior", "sentence_rank",
    "echo_share", "novel_words", "length", "length_share", "distance", "after_match", "after_last_match",
    "adjacent_after_match", "beside_type_noun", "contains_echo", "position", "type_fit", "type_miss",
    "entity_for_open", "head_in_question", "causal_for_why", "list_for_list", "list_not_wanted", "sentence_for_how",
    "definition_block", "table_row", "code", "header_match"))  # fmt: skip
