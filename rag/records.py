"""Plain data records shared by every layer. No behaviour lives here beyond derived fields.

All offsets are Python ``str`` indices (Unicode code points) into a document's raw text,
``end`` exclusive, so ``document.text[start:end] == quote`` is the invariant everywhere.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

# A metadata value: a string, integer or boolean, or a list of them (e.g. tags), as given at
# upload. No floats: JSON Schema's "number" overlaps "integer", so the schema could not say
# which of the union a value is. Integers are 64-bit: the index stores metadata as msgpack, which
# cannot hold larger ones (an outside fuzz run's 26-digit integer failed at save with a 500).
MetadataInt = Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)]
MetadataValue = str | MetadataInt | bool | list[str | MetadataInt | bool]
DEFAULT_COLLECTION = "default"


class Document(msgspec.Struct, frozen=True):
    doc_id: str
    title: str
    path: str
    sha256: str
    text: str
    collection: str = DEFAULT_COLLECTION
    metadata: dict[str, MetadataValue] = msgspec.field(default_factory=dict)  # e.g. source, tags


class DocumentInfo(msgspec.Struct, frozen=True):
    """A document's metadata without its text, for listings."""

    doc_id: str
    title: str
    path: str
    sha256: str
    chars: int
    collection: str = DEFAULT_COLLECTION
    metadata: dict[str, MetadataValue] = msgspec.field(default_factory=dict)


class Span(msgspec.Struct, frozen=True):
    """A ``[start, end)`` stretch of one document's raw text."""

    doc_id: str
    start: int
    end: int


class Sentence(msgspec.Struct, frozen=True):
    """A sentence of a document, with the kind of block it sits in (paragraph, heading,
    list_item, table_row, term, definition, code) and the id of the sentence that titles its
    section or definition (``context``, -1 when none)."""

    sentence_id: int
    doc_id: str
    start: int
    end: int
    text: str
    kind: str = "paragraph"
    context: int = -1


class Clause(msgspec.Struct, frozen=True):
    """A clause of a sentence (split at semicolons, colons, dashes): the finest answer unit."""

    clause_id: int
    sentence_id: int
    doc_id: str
    start: int
    end: int
    text: str


class Candidate(msgspec.Struct, frozen=True, array_like=True):
    """A span of a sentence that could answer a question, found by linguistic analysis:
    ``kind`` is entity / subject / object / complement / oblique / apposition / noun_phrase,
    ``label`` the entity type or part of speech, ``head`` the lemma of the word it depends on."""

    sentence_id: int
    start: int
    end: int
    kind: str
    label: str
    head: str


class Chunk(msgspec.Struct, frozen=True):
    """A retrieval unit: a run of whole sentences (or a piece of an over-long one)."""

    chunk_id: int
    doc_id: str
    start: int
    end: int
    text: str
    tokens: int
    sentence_ids: tuple[int, ...] = ()


class Passage(msgspec.Struct, frozen=True):
    """A retrieved chunk with the evidence for its rank."""

    chunk_id: int
    doc_id: str
    start: int
    end: int
    text: str
    score: float
    dense_score: float | None
    bm25_score: float | None
    rank: int


class Citation(msgspec.Struct, frozen=True):
    """An exact quote of a source, and the stretch of the answer it supports."""

    doc_id: str
    doc_sha256: str
    start: int
    end: int
    quote: str
    score: float
    answer_start: int
    answer_end: int


class ConsideredAnswer(msgspec.Struct, frozen=True):
    """One of the reader's best candidates for a question with its non-zero features: why the
    answer won (``"explain": true`` in a request to ``/ask``)."""

    text: str
    doc_id: str
    start: int
    end: int
    kind: str  # the generator that proposed it: sentence, entity, object, list, focus, ...
    label: str  # an entity's type or a table cell's column
    score: float  # the scorer's probability, before the span choice and the abstention rule
    features: dict[str, float]


class Answer(msgspec.Struct, frozen=True, omit_defaults=True):
    question: str
    answer: str
    abstained: bool
    confidence: float
    citations: list[Citation]
    passages: list[Passage]
    timings_ms: dict[str, float]
    explain: list[ConsideredAnswer] = []  # only when asked for


class SpanView(msgspec.Struct, frozen=True):
    """A citation looked up by offsets: the exact text plus surrounding context."""

    doc_id: str
    doc_sha256: str
    start: int
    end: int
    text: str
    context_start: int
    context_end: int
    before: str
    after: str


class ReindexStatus(msgspec.Struct):
    """The state of the latest full re-index (``POST /admin/reindex``); ``job`` is its id in the
    write queue (``GET /jobs/{job}``)."""

    state: Literal["idle", "queued", "running", "succeeded", "failed", "cancelled"]
    started_at: float | None = None
    finished_at: float | None = None
    index_version: str | None = None
    documents: int | None = None
    chunks: int | None = None
    error: str | None = None
    job: str | None = None


class DocumentChange(msgspec.Struct):
    """What an add, replace or remove did, and the index that now serves."""

    doc_id: str
    action: Literal["added", "replaced", "removed", "unchanged"]
    document: DocumentInfo | None  # None after a removal
    previous_sha256: str | None  # the replaced or removed text's hash: citations carrying it are stale
    index_version: str
    documents: int
    chunks: int
    chunks_embedded: int
    chunks_reused: int
    elapsed_ms: float
