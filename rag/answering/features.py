"""Features of answer candidates: general evidence, no word lists about any topic.

Every feature is a number a reader would weigh on any document: how well the candidate's
sentence matches the question (cosine, idf-weighted term coverage, its section title's
coverage, the passage's rank, whether its document uses the question's words at all), whether
the candidate is of the kind asked for (an entity of a fitting type, a list for a list question,
a clause with a causal cue for a why-question), how much of it only repeats the question, how
close it sits to the question's words, and whether it depends on one of the question's words
(the object of the question's verb). ``FEATURES`` names the columns; the scorer's weights are
stored against these names.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from rag.answering.candidates import Proposal
from rag.answering.layout import SentenceWords as SentenceWords  # where the reader has always found it
from rag.answering.layout import WordLayout
from rag.answering.question import Question
from rag.answering.words import CANDIDATE_FEATURES
from rag.records import Sentence
from rag.text.normalize import content_terms, stem

KINDS = ("sentence", "focus", "list", "entity", "subject", "object", "complement", "oblique", "apposition",
         "noun_phrase", "literal", "cell")  # fmt: skip
_CAUSAL = re.compile(
    r"\b(?:because|since|due to|owing to|as a result|so that|in order to|so as to|to avoid|to prevent|to allow"
    r"|to make|to ensure|reasons?|otherwise|thus|therefore|hence)\b",
    re.I,
)

FEATURES: tuple[str, ...] = (
    "sentence_dense", "sentence_coverage", "context_coverage", "passage_prior", "sentence_rank",
    "echo_share", "novel_words", "length", "length_share", "distance", "after_match",
    "type_fit", "type_miss", "entity_for_open", "head_in_question", "causal_for_why", "list_for_list",
    "list_not_wanted", "sentence_for_how", "definition_block", "table_row", "code",
    "contains_echo", "after_last_match", "adjacent_after_match", "position",
    "context_dense", "previous_dense", "clause_dense", "header_match", "beside_type_noun",
    "bigram_coverage", "rarest_match", "document_coverage", "local_coverage",
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
    "terms": ("sentence_coverage", "context_coverage", "bigram_coverage", "rarest_match", "document_coverage",
              "local_coverage",
              "echo_share", "novel_words", "contains_echo", "header_match", "head_in_question"),
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
    "document_coverage", "local_coverage",
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



def sentence_of(proposals: list[Proposal]) -> npt.NDArray[np.int64]:
    """Each candidate's sentence id: what ``sentence_rows`` groups by."""
    return np.array([p.sentence.sentence_id for p in proposals], dtype=np.int64)


def candidate_sentence_rows(rows: npt.NDArray[np.float32], proposals: list[Proposal]) -> npt.NDArray[np.float32]:
    """Each candidate's sentence's ``SENTENCE_FEATURES`` row (``sentence_rows``, one per candidate)."""
    ids = sentence_of(proposals)
    distinct, table = sentence_rows(rows, ids)
    return table[np.searchsorted(distinct, ids)]

def bigram_share(q: Question, pairs: frozenset[tuple[str, str]]) -> float:
    """The share of the question's adjacent content-word pairs that are adjacent here too (``pairs``:
    ``SentenceWords.content_pairs``)."""
    if not q.bigrams:
        return 0.0
    return len(q.bigrams & pairs) / len(q.bigrams)


def featurise(
    q: Question,
    proposals: list[Proposal],
    text_of: dict[str, str],
    words_of: Callable[[int], SentenceWords],
    sentence_dense: dict[int, dict[str, float]],
    sentence_terms: Callable[[int], frozenset[str]],
    context_terms: Callable[[int], frozenset[str]],
    document_terms: Callable[[Sentence], frozenset[str]],
) -> npt.NDArray[np.float32]:
    """One row of ``FEATURES`` per proposal.

    A sentence's own values are computed once and copied to its candidates' rows; the candidates'
    values are computed a column at a time over all of them (``WordLayout``): a row at a time in
    Python, with a bisect a part and a generator a count, took a third of the reader's time (0.77
    of 2.3 ms a question on the article's questions). Every value is computed in float64 as the
    row-wise code did and rounded to float32 once, so the rows are the same to the bit."""
    if not proposals:
        return np.zeros((0, len(FEATURES)), dtype=np.float32)
    ranked = sorted(sentence_dense, key=lambda sid: -sentence_dense[sid]["sentence_dense"])
    rank_of = {sid: i for i, sid in enumerate(ranked)}
    number: dict[int, int] = {}  # sentence id -> its number, in the order of the sentences' first candidates
    sentences: list[Sentence] = []
    sentence_of: list[int] = []
    for p in proposals:
        found = number.get(p.sentence.sentence_id)
        if found is None:
            found = number[p.sentence.sentence_id] = len(sentences)
            sentences.append(p.sentence)
        sentence_of.append(found)
    words = [words_of(s.sentence_id) for s in sentences]
    base = [_sentence_values(q, w, s, sentence_dense[s.sentence_id], rank_of.get(s.sentence_id, len(ranked)),
                             sentence_terms, context_terms, document_terms)
            for s, w in zip(sentences, words, strict=True)]  # fmt: skip
    sentence = np.array(sentence_of, dtype=np.int64)
    rows = np.array(base, dtype=np.float64)[sentence]
    bounds = np.array([(s.start, s.end) for s in sentences], dtype=np.int64)[sentence]
    _candidate_values(rows, q, proposals, sentence, bounds, WordLayout(words, q), text_of)
    return rows.astype(np.float32)


def _candidate_values(rows: npt.NDArray[np.float64], q: Question, proposals: list[Proposal],
                      sentence: npt.NDArray[np.int64], bounds: npt.NDArray[np.int64], layout: WordLayout,
                      text_of: dict[str, str]) -> None:  # fmt: skip
    """Fill ``rows`` with the values of each candidate itself (``sentence``: each one's sentence
    number, ``bounds``: its sentence's start and end)."""
    parts = np.array([(i, a, b) for i, p in enumerate(proposals) for a, b in p.parts], dtype=np.int64)
    owner = parts[:, 0]
    firsts = np.flatnonzero(np.concatenate(([True], owner[1:] != owner[:-1])))
    start, end = parts[firsts, 1], parts[np.append(firsts[1:], len(owner)) - 1, 2]  # the first part's, the last's
    # Only the sentence's own words count: list items after a lead-in count as none (so the echo
    # penalty drops them); counting the items' words measured worse held out (.325 vs .357).
    counts = layout.counts(sentence[owner], parts[:, 1], parts[:, 2])
    words, content, echo = (np.add.reduceat(count, firsts) for count in counts)
    rows[:, _PASSAGE_PRIOR] = [p.prior for p in proposals]
    rows[:, _ECHO_SHARE] = np.where(content > 0, echo / np.maximum(content, 1), 1.0)
    rows[:, _NOVEL_WORDS] = _log1p(content - echo)
    rows[:, _LENGTH] = _log1p(words)
    rows[:, _LENGTH_SHARE] = words / np.maximum(1, layout.lengths[sentence])
    distance, after, after_last, adjacent = layout.matches(sentence, start, end)
    rows[:, _DISTANCE], rows[:, _AFTER_MATCH], rows[:, _AFTER_LAST_MATCH] = distance, after, after_last
    rows[:, _ADJACENT_AFTER_MATCH] = adjacent
    if q.type_nouns:  # "the directory `/var/cache`", "the ``bit_length`` method"
        rows[:, _BESIDE_TYPE_NOUN] = layout.beside(q.type_nouns, sentence, start, end)
    rows[:, _CONTAINS_ECHO] = echo > 0
    rows[:, _POSITION] = (start - bounds[:, 0]) / np.maximum(1, bounds[:, 1] - bounds[:, 0])
    kinds = [p.kind for p in proposals]
    fits = np.array([p.kind == "entity" and p.label in q.labels for p in proposals], dtype=np.bool_)
    rows[:, _TYPE_FIT] = fits
    rows[:, _TYPE_MISS] = bool(q.labels) & ~fits
    if q.kind in ("thing", "other"):
        rows[:, _ENTITY_FOR_OPEN] = [kind == "entity" for kind in kinds]
    rows[:, _HEAD_IN_QUESTION] = [bool(p.head) and _stem(p.head) in q.terms for p in proposals]
    # Each answer's text only where the question's kind reads it (a why-question, a list question).
    if q.kind == "reason":
        texts = [" ".join(text_of[p.sentence.doc_id][a:b] for a, b in p.parts) for p in proposals]
        rows[:, _CAUSAL_FOR_WHY] = [bool(_CAUSAL.search(text)) for text in texts]
    if q.wants_list:
        texts = [" ".join(text_of[p.sentence.doc_id][a:b] for a, b in p.parts) for p in proposals]
        rows[:, _LIST_FOR_LIST] = [kind == "list" or ("," in text and (" and " in text or " or " in text))
                                   for kind, text in zip(kinds, texts, strict=True)]  # fmt: skip
    else:
        rows[:, _LIST_NOT_WANTED] = [kind == "list" for kind in kinds]
    if q.kind == "manner":
        rows[:, _SENTENCE_FOR_HOW] = [kind == "sentence" for kind in kinds]
    every = np.arange(len(proposals))
    rows[every, [_KIND_COLUMN[kind] for kind in kinds]] = 1.0
    # The question's kind picks which "<why|how|def>_<candidate kind>" column a candidate kind sets.
    kind_column = {k: COLUMN[f"{prefix}_{k}"] for prefix, kind, kinds in _KIND_COLUMNS if q.kind == kind for k in kinds}
    chosen = [i for i, kind in enumerate(kinds) if kind in kind_column]
    rows[chosen, [kind_column[kinds[i]] for i in chosen]] = 1.0
    for i, p in enumerate(proposals):
        if p.kind == "cell" and p.label:  # the cell's column header names what the question asks
            rows[i, _HEADER_MATCH] = q.coverage(frozenset(content_terms(p.label)))


# Candidates' head words (verbs and nouns they depend on) are a small vocabulary asked for again
# at every question.
_stem = lru_cache(maxsize=1 << 14)(stem)


@lru_cache(maxsize=16)
def _log1p_table(size: int) -> npt.NDArray[np.float64]:
    # math.log1p, as the row-wise code used: numpy's own log1p may differ in the last bit.
    return np.array([math.log1p(i) for i in range(size)], dtype=np.float64)


def _log1p(counts: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
    """``math.log1p`` of each count, from a table as long as the next power of two."""
    return _log1p_table(1 << max(6, int(counts.max(initial=0)).bit_length()))[counts]


def _sentence_values(q: Question, words: SentenceWords, s: Sentence, dense: dict[str, float], rank: int,
                     sentence_terms: Callable[[int], frozenset[str]],
                     context_terms: Callable[[int], frozenset[str]],
                     document_terms: Callable[[Sentence], frozenset[str]]) -> list[float]:  # fmt: skip
    """A row with the values every candidate of the sentence shares."""
    row = [0.0] * len(FEATURES)
    for name, value in dense.items():
        row[COLUMN[name]] = value
    found = sentence_terms(s.sentence_id) | context_terms(s.sentence_id)
    row[_SENTENCE_COVERAGE] = q.coverage(found)
    row[_CONTEXT_COVERAGE] = q.coverage(context_terms(s.sentence_id))
    row[_BIGRAM_COVERAGE] = bigram_share(q, words.content_pairs)
    row[_RAREST_MATCH] = q.rarest_share(found)
    # Whether the sentence's document uses the question's words at all: a question that names a
    # product ("... a Werkzeug request ...") should not be answered from another product's page.
    row[_DOCUMENT_COVERAGE] = q.coverage(document_terms(s))
    row[_LOCAL_COVERAGE] = q.local_coverage(found)
    row[_SENTENCE_RANK] = 1.0 / (1.0 + rank)
    row[_DEFINITION_BLOCK] = float(s.kind == "definition")
    row[_TABLE_ROW] = float(s.kind == "table_row")
    row[_CODE] = float(s.kind == "code")
    return row


_KIND_COLUMNS = (("why", "reason", ("sentence", "focus", "oblique")), ("how", "manner", ("sentence", "focus")),
                 ("def", "definition", ("sentence", "complement", "focus")))  # fmt: skip
_KIND_COLUMN = {k: COLUMN[f"kind_{k}"] for k in KINDS}
(_SENTENCE_COVERAGE, _CONTEXT_COVERAGE, _BIGRAM_COVERAGE, _RAREST_MATCH, _PASSAGE_PRIOR, _SENTENCE_RANK, _ECHO_SHARE,
 _NOVEL_WORDS, _LENGTH, _LENGTH_SHARE, _DISTANCE, _AFTER_MATCH, _AFTER_LAST_MATCH, _ADJACENT_AFTER_MATCH,
 _BESIDE_TYPE_NOUN, _CONTAINS_ECHO, _POSITION, _TYPE_FIT, _TYPE_MISS, _ENTITY_FOR_OPEN, _HEAD_IN_QUESTION,
 _CAUSAL_FOR_WHY, _LIST_FOR_LIST, _LIST_NOT_WANTED, _SENTENCE_FOR_HOW, _DEFINITION_BLOCK, _TABLE_ROW, _CODE,
 _HEADER_MATCH, _DOCUMENT_COVERAGE, _LOCAL_COVERAGE) = (COLUMN[name] for name in (
    "sentence_coverage", "context_coverage", "bigram_coverage", "rarest_match", "passage_prior", "sentence_rank",
    "echo_share", "novel_words", "length", "length_share", "distance", "after_match", "after_last_match",
    "adjacent_after_match", "beside_type_noun", "contains_echo", "position", "type_fit", "type_miss",
    "entity_for_open", "head_in_question", "causal_for_why", "list_for_list", "list_not_wanted", "sentence_for_how",
    "definition_block", "table_row", "code", "header_match", "document_coverage", "local_coverage"))  # fmt: skip
