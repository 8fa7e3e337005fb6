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
    """One row of ``FEATURES`` per proposal."""
    rows = np.zeros((len(proposals), len(FEATURES)), dtype=np.float32)
    ranked = sorted(sentence_dense, key=lambda sid: -sentence_dense[sid]["sentence_dense"])
    rank_of = {sid: i for i, sid in enumerate(ranked)}
    echo_of: dict[str, bool] = {}
    sentences: dict[int, _SentenceView] = {}
    for row, p in zip(rows, proposals, strict=True):
        s = p.sentence
        text = text_of[s.doc_id]
        view = sentences.get(s.sentence_id)
        if view is None:
            found = sentence_terms(s.sentence_id) | context_terms(s.sentence_id)
            view = sentences[s.sentence_id] = _SentenceView.of(
                words_of(s.sentence_id), q, echo_of, q.coverage(found),
                q.coverage(context_terms(s.sentence_id)), q.rarest_share(found),
            )  # fmt: skip
        # Only the sentence's own words count: list items after a lead-in count as none (so the
        # echo penalty drops them); counting the items' words measured worse held out (.325 vs .357).
        words, content, echo = view.counts(p.parts)
        set_value = row.__setitem__
        for name, value in sentence_dense[s.sentence_id].items():
            set_value(COLUMN[name], value)
        set_value(COLUMN["sentence_coverage"], view.coverage)
        set_value(COLUMN["context_coverage"], view.context_coverage)
        set_value(COLUMN["bigram_coverage"], view.bigram_coverage)
        set_value(COLUMN["rarest_match"], view.rarest_match)
        set_value(COLUMN["passage_prior"], p.prior)
        set_value(COLUMN["sentence_rank"], 1.0 / (1.0 + rank_of.get(s.sentence_id, len(ranked))))
        set_value(COLUMN["echo_share"], echo / content if content else 1.0)
        set_value(COLUMN["novel_words"], math.log1p(content - echo))
        set_value(COLUMN["length"], math.log1p(words))
        set_value(COLUMN["length_share"], words / max(1, len(view.starts)))
        if view.matched:
            gaps = [max(0, a - p.end, p.start - b) for a, b in view.matched]
            set_value(COLUMN["distance"], min(1.0, min(gaps) / 200.0))
            set_value(COLUMN["after_match"], float(p.start >= view.matched[0][1]))
            before = [b for a, b in view.matched if b <= p.start]
            set_value(COLUMN["after_last_match"], float(p.start >= view.matched[-1][1]))
            set_value(COLUMN["adjacent_after_match"], float(bool(before) and p.start - before[-1] <= 12))
        else:
            set_value(COLUMN["distance"], 1.0)
        if q.type_nouns:  # "the directory `/var/cache`", "the ``bit_length`` method"
            first = bisect_left(view.starts, p.start)
            last = bisect_left(view.starts, p.end)
            beside = view.stems[max(0, first - 2) : first] + view.stems[last : last + 2]
            set_value(COLUMN["beside_type_noun"], float(not q.type_nouns.isdisjoint(beside)))
        set_value(COLUMN["contains_echo"], float(echo > 0))
        set_value(COLUMN["position"], (p.start - s.start) / max(1, s.end - s.start))
        fits = p.kind == "entity" and p.label in q.labels
        set_value(COLUMN["type_fit"], float(fits))
        set_value(COLUMN["type_miss"], float(bool(q.labels) and not fits))
        set_value(COLUMN["entity_for_open"], float(p.kind == "entity" and q.kind in ("thing", "other")))
        set_value(COLUMN["head_in_question"], float(bool(p.head) and stem(p.head) in q.terms))
        answer_text = " ".join(text[a:b] for a, b in p.parts)
        set_value(COLUMN["causal_for_why"], float(q.kind == "reason" and bool(_CAUSAL.search(answer_text))))
        is_list = p.kind == "list" or ("," in answer_text and (" and " in answer_text or " or " in answer_text))
        set_value(COLUMN["list_for_list"], float(q.wants_list and is_list))
        set_value(COLUMN["list_not_wanted"], float(not q.wants_list and p.kind == "list"))
        set_value(COLUMN["sentence_for_how"], float(q.kind == "manner" and p.kind == "sentence"))
        set_value(COLUMN["definition_block"], float(s.kind == "definition"))
        set_value(COLUMN["table_row"], float(s.kind == "table_row"))
        set_value(COLUMN["code"], float(s.kind == "code"))
        set_value(COLUMN[f"kind_{p.kind}"], 1.0)
        if p.kind == "cell" and p.label:  # the cell's column header names what the question asks
            set_value(COLUMN["header_match"], q.coverage(frozenset(content_terms(p.label))))
        for prefix, kind, kinds in (("why", "reason", ("sentence", "focus", "oblique")),
                                    ("how", "manner", ("sentence", "focus")),
                                    ("def", "definition", ("sentence", "complement", "focus"))):  # fmt: skip
            if q.kind == kind and p.kind in kinds:
                set_value(COLUMN[f"{prefix}_{p.kind}"], 1.0)
    return rows
