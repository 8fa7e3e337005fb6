"""The question-answering engine: opens (or rebuilds) the index and answers questions.

This is the one object the API and the CLI talk to. It validates nothing about transport;
it raises the domain errors below, which each front end maps to its own way of saying no.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import msgspec
import numpy as np
import numpy.typing as npt
from filelock import Timeout

from rag.answering.citations import verify
from rag.answering.model import load_model
from rag.answering.read_ahead import READ_AHEAD
from rag.answering.reader import Reader
from rag.answering.span_model import span_head
from rag.caching import LruCache
from rag.config import Settings
from rag.documents.loading import SkippedFile, load_documents
from rag.durable import TEMPORARY_SUFFIX
from rag.embedding.base import Embedder
from rag.embedding.registry import create_embedder
from rag.errors import BadRequest, UnknownDocument, UnknownSpan, UnusableIndex
from rag.index.build import Progress, build_index, fingerprint_for
from rag.index.content import IndexData
from rag.index.lexical import LexicalIndex
from rag.index.store import IndexStore
from rag.index.vectors import VectorCache
from rag.records import Answer, Document, DocumentInfo, Passage, SpanView
from rag.retrieval.filters import SearchFilter, allowed_documents
from rag.retrieval.hybrid import Retriever
from rag.text.normalize import fold

log = logging.getLogger("rag")

# C0/C1 control characters other than tab, line feed and carriage return; and lone surrogates,
# which no UTF-8 text can contain (they arrive only through escapes such as JSON "\ud800").
CONTROL_CHARS = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"
# The characters str.strip() removes (str.isspace()), spelled out: ``\s`` means other sets in
# Python's re, in ECMA 262 and in the schema validators, so a pattern cannot use it.
WHITE_SPACE = r"\t-\r\x1c- \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
NOT_BLANK_PATTERN = rf"[^{WHITE_SPACE}]"  # what str.strip() does not empty
_UNUSABLE_CHARS = re.compile(f"[{CONTROL_CHARS}\ud800-\udfff]")
# What check_question accepts, as the OpenAPI schema states it (with maxLength
# answering.max_question_chars): no control character, and at least one letter or number
# (Unicode categories L and N: what str.isalnum() finds). ECMA 262 with the ``u`` flag, as JSON
# Schema validators read patterns; Python's re has no ``\p{...}``.
QUESTION_PATTERN = rf"^[^{CONTROL_CHARS}]*[\p{{L}}\p{{N}}][^{CONTROL_CHARS}]*$"


def check_question(question: str, limit: int) -> str:
    """The question without surrounding white space, or ``BadRequest`` saying why it cannot be
    asked. Judged on the question as sent, so that it is exactly what ``QUESTION_PATTERN`` and
    ``limit`` (the schema's maxLength) admit: a control character is refused even where
    stripping would have removed it (U+001C-U+001F and U+0085 are white space to ``str.strip``)."""
    if len(question) > limit:
        raise BadRequest(f"question is longer than {limit} characters")
    bad = _UNUSABLE_CHARS.search(question)
    if bad:
        kind = "a lone surrogate" if "\ud800" <= bad.group() <= "\udfff" else "a control character"
        raise BadRequest(f"question contains {kind} (U+{ord(bad.group()):04X}) at position {bad.start()}")
    question = question.strip()
    if not question:
        raise BadRequest("question is empty")
    if not any(c.isalnum() for c in question):  # e.g. only punctuation, emoji or zero-width spaces
        raise BadRequest("question has no letters or digits")
    return question


@dataclass
class QAService:
    settings: Settings
    embedder: Embedder
    data: IndexData
    skipped: list[SkippedFile] = field(default_factory=list)
    rebuilt: str | None = None  # why the index was rebuilt at open, if it was

    def __post_init__(self) -> None:
        lexical = self.data.lexical or LexicalIndex([c.text for c in self.data.chunks])
        data = self.data
        scan_every_sentence = len(data.sentences) < self.settings.index.exact_below
        self.retriever = Retriever(data.chunks, data.chunks_by_id, data.vectors, data.sentence_vectors, lexical,
                                   self.settings.retrieval, scan_every_sentence)  # fmt: skip
        model = load_model(self.settings.answering.model or None)
        head = span_head(self.settings) if self.settings.answering.span_head_sentences else None
        self.answerer = Reader(self.data, lexical, self.settings.answering, model, head)
        self._question_cache = VectorCache(self.settings.embedding.query_cache_size)
        self._answer_cache: LruCache[Answer] = LruCache(self.settings.answering.answer_cache_size)

    @classmethod
    def open(
        cls,
        settings: Settings,
        embedder: Embedder | None = None,
        progress: Progress | None = None,
        force_rebuild: bool = False,
    ) -> QAService:
        """Load the index for the current seeds, rebuilding it first if missing, stale or damaged."""
        embedding = settings.embedding
        embedder = embedder or create_embedder(
            embedding.model, embedding.backend, embedding.batch_size, settings.paths.index,
            threads=embedding.threads, lone_threads=embedding.lone_threads,
        )  # fmt: skip
        if settings.store.backend == "postgres":  # the database holds the documents (rag.index.postgres)
            from rag.index.postgres.backend import open_database  # needs the optional .[postgres] drivers

            documents, skipped = load_documents(Path(settings.paths.seeds))
            data, rebuilt = open_database(settings, embedder, documents, progress, force_rebuild)
            return cls(settings, embedder, data, _logged(skipped), rebuilt=rebuilt)
        seeds, store = Path(settings.paths.seeds), IndexStore(Path(settings.paths.index))
        _remove_leftovers(store, seeds)
        reason = "rebuild requested" if force_rebuild else None
        if not force_rebuild:
            documents, skipped = load_documents(seeds)
            try:
                data = store.load(fingerprint_for(settings, embedder, documents), settings.index.hnsw_ef_search)
                return cls(settings, embedder, data, _logged(skipped))
            except UnusableIndex as error:
                reason = str(error)
        log.info("building the index: %s", reason)
        # Under the writer lock, and reading seeds/ only once it is held: a document another
        # process added meanwhile is in this build, never overwritten by it.
        with store.writer_lock():
            documents, skipped = load_documents(seeds)
            # Seeds that changed while the service was down: only they are chunked and embedded.
            previous = None if force_rebuild else store.previous_build(
                fingerprint_for(settings, embedder, documents), settings.index.hnsw_ef_search)  # fmt: skip
            data = build_index(store, settings, embedder, documents, progress, previous)
        return cls(settings, embedder, data, _logged(skipped), rebuilt=reason)

    # -- questions -------------------------------------------------------------------------

    def embed_question(self, question: str) -> npt.NDArray[np.float32]:
        """The question's vector (read-only), from an LRU cache keyed by index version and text.

        What is embedded is the normalised question (folded, whitespace collapsed), so a cached
        vector is exactly what a miss computes; the model is uncased, so folding changes only
        typography (curly quotes, dashes). ``[embedding] query_cache_size`` 0 disables the cache.
        """
        cache = self._question_cache
        text = normalised_question(question) or question
        key = (self.data.manifest.version, text)
        vector: npt.NDArray[np.float32] | None = cache.get(key)
        if vector is None:
            vector = cache.put(key, self.embedder.embed([text])[0])
        return vector

    def check_question(self, question: str) -> str:
        return check_question(question, self.settings.answering.max_question_chars)

    def check_k(self, k: int | None, name: str = "top_k") -> int:
        """``k`` passages if allowed; ``name`` is what the caller calls it (``k`` in ``/search``)."""
        k = self.settings.retrieval.top_k if k is None else k
        if not 1 <= k <= self.settings.retrieval.max_top_k:
            raise BadRequest(f"{name} must be between 1 and {self.settings.retrieval.max_top_k}")
        return k

    def search(self, query: str, k: int | None = None, filters: SearchFilter | None = None) -> list[Passage]:
        query = self.check_question(query)
        allowed = allowed_documents(filters, self.data.documents)
        return self.retriever.search(query, self.embed_question(query), self.check_k(k, "k"), allowed)

    def ask(self, question: str, top_k: int | None = None, filters: SearchFilter | None = None,
            explain: bool = False) -> Answer:  # fmt: skip
        """Answer from every document, or from those ``filters`` admits (a collection, metadata);
        with ``explain``, also the reader's best candidates and their features.

        A question asked before with the same options is answered from the answer cache
        (``[answering] answer_cache_size``): the same answer, with ``timings_ms`` of the lookup
        (``cache`` and ``total``). The key holds the exact question, not a normalised one: BM25 and
        the reader read its raw words, so only an identical question is sure to get the same answer.
        """
        started = time.perf_counter()
        question = self.check_question(question)
        k = self.check_k(top_k)
        key = (self.data.manifest.version, question, k, msgspec.json.encode(filters), explain)
        cached = self._answer_cache.get(key)
        if cached is not None:
            took = _ms(started, time.perf_counter())
            return msgspec.structs.replace(cached, timings_ms={"cache": took, "total": took})
        with READ_AHEAD.asking():  # the span head reads ahead only for a question alone in the process
            return self._answer_cache.put(key, self._answer(question, k, filters, explain, started))

    def _answer(self, question: str, k: int, filters: SearchFilter | None, explain: bool, started: float) -> Answer:
        vector = self.embed_question(question)
        embedded = time.perf_counter()
        allowed = allowed_documents(filters, self.data.documents)
        passages = self.retriever.search(question, vector, max(k, self.settings.answering.passages_considered), allowed)
        retrieved = time.perf_counter()
        extraction = self.answerer.answer(question, vector, passages, explain)
        for citation in extraction.citations:
            verify(citation, self.data.documents)  # never serve a quote that differs from its source
        done = time.perf_counter()
        return Answer(
            question=question,
            answer=extraction.answer or "The sources do not contain an answer to this question.",
            abstained=extraction.abstained,
            confidence=extraction.confidence,
            citations=extraction.citations,
            passages=passages[:k],
            timings_ms={
                "embed": _ms(started, embedded),
                "retrieve": _ms(embedded, retrieved),
                "answer": _ms(retrieved, done),
                "total": _ms(started, done),
            },
            explain=extraction.explain,
        )

    # -- documents -------------------------------------------------------------------------

    def documents(self, filters: SearchFilter | None = None) -> list[DocumentInfo]:
        allowed = allowed_documents(filters, self.data.documents)
        return [info(d) for d in self.data.documents.values() if allowed is None or d.doc_id in allowed]

    def document(self, doc_id: str) -> Document:
        doc = self.data.documents.get(doc_id)
        if doc is None:
            raise UnknownDocument(f"no document with id {doc_id!r}")
        return doc

    def span(self, doc_id: str, start: int, end: int, context: int = 200) -> SpanView:
        doc = self.document(doc_id)
        size = len(doc.text)
        if not 0 <= start < end <= size:  # a span the document does not have: a missing resource
            why = f"end must be <= {size}" if end > size else "start must be >= 0"
            why = "start must be < end" if start >= end else why
            raise UnknownSpan(f"no span [{start}, {end}) in document {doc_id!r}: it has {size} characters; {why}")
        if not 0 <= context <= 10_000:
            raise BadRequest("context must be between 0 and 10000")
        left, right = max(0, start - context), min(len(doc.text), end + context)
        return SpanView(
            doc_id=doc.doc_id,
            doc_sha256=doc.sha256,
            start=start,
            end=end,
            text=doc.text[start:end],
            context_start=left,
            context_end=right,
            before=doc.text[left:start],
            after=doc.text[end:right],
        )


def info(doc: Document) -> DocumentInfo:
    return DocumentInfo(
        doc_id=doc.doc_id, title=doc.title, path=doc.path, sha256=doc.sha256, chars=len(doc.text),
        collection=doc.collection, metadata=doc.metadata,
    )  # fmt: skip


def normalised_question(question: str) -> str:
    return " ".join(fold(question).split())


def _remove_leftovers(store: IndexStore, seeds: Path) -> None:
    """Temporary seed files and staging builds that a killed writer left behind. Only while no
    writer is at work (their files are not leftovers), and never an obstacle to starting: a
    read-only index folder (a replica) simply keeps them."""
    try:
        lock = store.writer_lock()
        lock.acquire(blocking=False)
    except (Timeout, OSError):
        return
    try:
        store.remove_leftovers()
        for temporary in seeds.glob(f".*{TEMPORARY_SUFFIX}"):
            log.warning("removing %s, left by an interrupted write", temporary)
            temporary.unlink(missing_ok=True)
    except OSError as error:
        log.warning("could not remove leftovers of interrupted writes: %s", error)
    finally:
        lock.release()


def _logged(skipped: list[SkippedFile]) -> list[SkippedFile]:
    for skip in skipped:
        log.warning("skipped seed file: %s", skip.reason)
    return skipped


def _ms(start: float, end: float) -> float:
    return round((end - start) * 1000, 3)
