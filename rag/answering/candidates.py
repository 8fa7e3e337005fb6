"""Answer candidates: the spans of the top passages' sentences that could answer a question.

Reads the index (sentences with their block kind and section title, the persisted linguistic
candidates) and the ranked passages. For each sentence of the top passages it proposes:

- the linguistic candidates of ``rag.text.linguistics`` (entities, subjects, objects,
  complements, obliques, appositions, noun phrases);
- ``literal``: inline code, emphasis, quotations, link texts and identifier-like words
  (``rag.text.markup.literal_spans``), which name the options, files and values of technical text;
- ``focus``: the sentence narrowed to the words that do not echo the question, the last run of
  two or more content words (English puts new information last);
- ``sentence``: the whole sentence, or a table row, or a definition's body;
- ``list``: the items of a list (the first sentence of each), when the sentence is a list item
  or introduces a list with a colon; the answer joins the items and cites the list as one quote.

Headings and terms are never answers themselves: their words reach the sentences under them
as context. Each candidate keeps the sentence it came from and the passage prior of its best
passage, for the features.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from rag.answering.question import Question, echo_key
from rag.config import CANDIDATE_SOURCES
from rag.records import Candidate, Chunk, Passage, Sentence
from rag.text.markup import literal_spans, strip_markup
from rag.text.normalize import STOPWORDS, fold

ANSWER_SENTENCE_KINDS = frozenset({"paragraph", "list_item", "definition", "table_row", "code"})
MAX_LIST_ITEMS = 12
PART_SEPARATOR = "; "  # between the parts of an answer of several spans (a list's items)
# Sentences whose question-independent proposals and words are kept: the top passages of
# related questions share sentences, and these are most of the reader's work per sentence.
CACHED_SENTENCES = 8192
_WORD = re.compile(r"\w+(?:[-'.\u2010-\u2015]\w+)*")
# A word of a sentence for ``focus_of``: start, end, whether a stop word, its ``echo_key``.
FocusWord = tuple[int, int, bool, str | None]
_BULLET = re.compile(r"(?:[-*+•▪◦]|\d{1,3}[.)]|[a-zA-Z][.)]|\(\w{1,3}\)|#\.)\s+")


@dataclass(frozen=True)
class Proposal:
    """One candidate answer: its parts (answer spans) and the sentences that cite them."""

    sentence: Sentence
    parts: tuple[tuple[int, int], ...]
    cited: tuple[tuple[int, int], ...]
    kind: str
    label: str = ""
    head: str = ""
    prior: float = 0.0

    @property
    def start(self) -> int:
        return self.parts[0][0]

    def answer(self, text: str) -> str:
        """The answer it gives, from its document's ``text``: its parts joined."""
        return PART_SEPARATOR.join(text[a:b] for a, b in self.parts)

    def with_prior(self, prior: float) -> Proposal:
        # A copy of the fields with the prior changed: ``dataclasses.replace`` took a tenth of the
        # reader's time, and even plain construction (a frozen class sets each field through
        # ``object.__setattr__``) cost twice this for the ~70 proposals of a question.
        copy = object.__new__(Proposal)
        fields = copy.__dict__
        fields.update(self.__dict__)
        fields["prior"] = prior
        return copy

    @property
    def end(self) -> int:
        return self.parts[-1][1]


def strip_bullet(sentence: Sentence) -> tuple[int, int]:
    marker = _BULLET.match(sentence.text)
    return (sentence.start + (marker.end() if marker else 0), sentence.end)


class RowsByKey:
    """The rows of a table grouped by a key column (the sentence a candidate or clause belongs
    to), as offsets into the rows sorted by key: a dict of lists over a million rows took a
    second at every open."""

    def __init__(self, keys: Iterable[int], key_count: int) -> None:
        column = np.fromiter(keys, dtype=np.int64)
        self.order = np.argsort(column, kind="stable")
        self.starts = np.searchsorted(column[self.order], np.arange(key_count + 1))  # key k: starts[k]:starts[k+1]

    def rows(self, key: int) -> list[int]:
        start, end = self.starts[key : key + 2].tolist()
        return list(self.order[start:end].tolist())


class CandidateIndex:
    """The persisted candidates grouped by sentence, and each document's sentence order."""

    def __init__(self, sentences: list[Sentence], candidates: list[Candidate], text_of: dict[str, str],
                 sources: frozenset[str] = frozenset(CANDIDATE_SOURCES)) -> None:  # fmt: skip
        self.sentences = sentences
        self.text_of = text_of
        self.sources = sources  # the generators that run besides the whole sentence ([answering] candidates)
        self.candidates = candidates
        self.rows_of_sentence = RowsByKey((c.sentence_id for c in candidates), len(sentences))
        # Per instance, so a new index (a new CandidateIndex) never sees an old one's entries.
        self.fixed_proposals = lru_cache(maxsize=CACHED_SENTENCES)(self._fixed_proposals)
        self.focus_words = lru_cache(maxsize=CACHED_SENTENCES)(self._focus_words)

    def following(self, sentence: Sentence) -> Sentence | None:
        nxt = sentence.sentence_id + 1
        if nxt < len(self.sentences) and self.sentences[nxt].doc_id == sentence.doc_id:
            return self.sentences[nxt]
        return None

    def document_rows(self, sentence: Sentence) -> tuple[int, int]:
        """The first and past-the-last sentence ids of ``sentence``'s document (its sentences are consecutive)."""
        first, end = sentence.sentence_id, sentence.sentence_id + 1
        while first > 0 and self.sentences[first - 1].doc_id == sentence.doc_id:
            first -= 1
        while end < len(self.sentences) and self.sentences[end].doc_id == sentence.doc_id:
            end += 1
        return first, end

    def first_of_run(self, sentence: Sentence) -> Sentence:
        """The first of the consecutive sentences of ``sentence``'s kind and document it belongs to
        (a list's first item, a table's header row)."""
        first = sentence
        while first.sentence_id > 0:
            previous = self.sentences[first.sentence_id - 1]
            if previous.kind != sentence.kind or previous.doc_id != sentence.doc_id:
                break
            first = previous
        return first

    def list_run(self, sentence: Sentence) -> list[Sentence]:
        """The list items of the list ``sentence`` belongs to, or introduces with a colon."""
        if sentence.kind == "list_item":
            first = self.first_of_run(sentence)
        elif sentence.text.rstrip().endswith(":"):
            nxt = self.following(sentence)
            if nxt is None or nxt.kind != "list_item":
                return []
            first = nxt
        else:
            return []
        run = [first]
        while len(run) < MAX_LIST_ITEMS and (nxt := self.following(run[-1])) is not None and nxt.kind == "list_item":
            run.append(nxt)
        return run

    @staticmethod
    def sentence_priors(passages: list[Passage], chunks: Mapping[int, Chunk]) -> dict[int, float]:
        """Each sentence of the passages (``chunks`` by chunk id), with its best passage's score
        relative to the top one."""
        top = passages[0].score if passages and passages[0].score else 1.0
        prior: dict[int, float] = {}
        for passage in passages:
            for sid in chunks[passage.chunk_id].sentence_ids:
                prior[sid] = max(prior.get(sid, 0.0), passage.score / top)
        return prior

    def propose(self, q: Question, priors: dict[int, float]) -> list[Proposal]:
        found: list[Proposal] = []
        for sid, prior in priors.items():
            if self.sentences[sid].kind in ANSWER_SENTENCE_KINDS:
                found += self.sentence_proposals(q, sid, prior)
        return found

    def sentence_proposals(self, q: Question, sentence_id: int, prior: float) -> list[Proposal]:
        """The sentence's fixed proposals with the passage prior, and its focus for ``q``
        (after the sentence, linguistic and literal candidates, before cells and lists)."""
        before, after = self.fixed_proposals(sentence_id)
        found = [p.with_prior(prior) for p in before]
        sentence = self.sentences[sentence_id]
        text = self.text_of[sentence.doc_id]
        whole = before[0].parts[0]
        span = focus_of(self.focus_words(sentence_id), *whole, q) if "focus" in self.sources else whole
        if span != whole:
            found.append(Proposal(sentence, (strip_markup(text, *span),), before[0].cited, "focus", prior=prior))
        return found + [p.with_prior(prior) for p in after]

    def _fixed_proposals(self, sentence_id: int) -> tuple[tuple[Proposal, ...], tuple[Proposal, ...]]:
        """What the sentence proposes for any question, split where the focus goes."""
        sentence = self.sentences[sentence_id]
        text = self.text_of[sentence.doc_id]
        whole = strip_bullet(sentence)
        cite = ((sentence.start, sentence.end),)
        before = [Proposal(sentence, (whole,), cite, "sentence")]
        linguistic = self.rows_of_sentence.rows(sentence_id) if "linguistic" in self.sources else []
        for c in (self.candidates[row] for row in linguistic):
            before.append(Proposal(sentence, (strip_markup(text, c.start, c.end),), cite, c.kind, c.label, c.head))
        known = {p.parts[0] for p in before}
        literals = literal_spans(text, *whole) if "literal" in self.sources else []
        literals = [span for span in literals if span not in known]
        before += [Proposal(sentence, (span,), cite, "literal") for span in literals]
        table = sentence.kind == "table_row" and "cell" in self.sources
        after = self.cell_proposals(sentence, text, 0.0) if table else []
        run = self.list_run(sentence) if "list" in self.sources else []
        items = [s for s in run if _BULLET.match(s.text)] or run  # an item's later sentences are not items
        if len(items) >= 2:
            # One quote of the whole list: a list answer is right or wrong as a whole, and one
            # citation per item would weigh a list like a dozen answers.
            parts = tuple(strip_markup(text, *strip_bullet(s)) for s in items)
            after.append(Proposal(sentence, parts, ((run[0].start, run[-1].end),), "list"))
        return tuple(before), tuple(after)

    def _focus_words(self, sentence_id: int) -> tuple[FocusWord, ...]:
        sentence = self.sentences[sentence_id]
        return tuple(focus_words(self.text_of[sentence.doc_id], *strip_bullet(sentence)))

    def cell_proposals(self, sentence: Sentence, text: str, prior: float) -> list[Proposal]:
        """Each cell of a table row, labelled with its column's header (the run's first row)."""
        header = self.first_of_run(sentence)
        titles = [text[a:b] for a, b in table_cells(text, header.start, header.end)] if header is not sentence else []
        cite = ((sentence.start, sentence.end),)
        cells = table_cells(text, sentence.start, sentence.end)
        titles += [""] * (len(cells) - len(titles))
        return [Proposal(sentence, (strip_markup(text, a, b),), cite, "cell", titles[i], "", prior)
                for i, (a, b) in enumerate(cells)]  # fmt: skip


def table_cells(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """The non-empty cells of a pipe-table row (``| a | b |``), without their padding."""
    cells = []
    edges = [start - 1] + [start + i for i, c in enumerate(text[start:end]) if c == "|" and text[start + i - 1] != "\\"]
    for a, b in zip(edges, [*edges[1:], end], strict=True):
        a += 1
        while a < b and text[a].isspace():
            a += 1
        while b > a and text[b - 1].isspace():
            b -= 1
        if a < b:
            cells.append((a, b))
    return cells


def focus_words(text: str, start: int, end: int) -> list[FocusWord]:
    """The words of ``text[start:end]`` as ``focus_of`` reads them: offsets, whether a stop word,
    and the word's ``echo_key`` (the same for every question, so kept per sentence)."""
    words = [(start + m.start(), m.group()) for m in _WORD.finditer(fold(text[start:end]))]
    return [(a, a + len(w), w in STOPWORDS, echo_key(w)) for a, w in words]


def focus(text: str, start: int, end: int, q: Question) -> tuple[int, int]:
    return focus_of(focus_words(text, start, end), start, end, q)


def focus_of(words: Sequence[FocusWord], start: int, end: int, q: Question) -> tuple[int, int]:
    """The last run of two or more content words that do not echo the question, else the
    longest run; the span itself when no word echoes it."""
    runs: list[list[FocusWord]] = [[]]
    for word in words:
        if q.echoed_by(word[3]):
            runs.append([])
        elif not word[2] or runs[-1]:
            runs[-1].append(word)
    if len(runs) == 1:
        return start, end
    spans = []
    for run in runs:
        while run and run[-1][2]:
            run.pop()
        if run:
            spans.append((run[0][0], run[-1][1], sum(not w[2] for w in run)))
    if not spans:
        return start, end
    informative = [s for s in spans if s[2] >= 2]
    best = informative[-1] if informative else max(spans, key=lambda s: s[2])
    return best[0], best[1]
