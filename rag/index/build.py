"""The one build path: chunk, analyse and embed documents into an index's content.

``assemble`` makes the content of every index: a full build (``build_index``), a re-index, a
document change (``rag.engine.updates``, which passes the previous build, so only the changed
document is chunked and embedded: ``rag.index.incremental``) and the PostgreSQL store's builds.
``IndexStore.save`` then adds the vector index, the lexical state and the manifest.

Sentences and clauses are embedded at build time as well as chunks, so answer extraction at
query time needs only the question's vector. Each distinct text is embedded once: most
clauses are whole sentences and many short chunks are one sentence, so this skips about a
third of the model's work on the seed corpus. The vector index is exact below
``[index] exact_below`` chunks and HNSW above (``rag.index.vectors``); the manifest says which.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import msgspec
import numpy as np

from rag.config import Settings
from rag.embedding.base import Embedder, Vectors
from rag.index.content import ChunkTable, IndexContent, IndexData
from rag.index.incremental import PreviousRows, Rows, unchanged
from rag.index.lexical import terms_signature
from rag.index.manifest import FORMAT_VERSION, Fingerprint
from rag.index.pooled import pooled_vectors
from rag.index.store import IndexStore
from rag.index.vectors import ef_construction_for
from rag.records import Chunk, Clause, Document, Sentence
from rag.text.chunk import Chunker, tiktoken_counter
from rag.text.linguistics import ANALYSIS_VERSION, analyse
from rag.text.normalize import visible
from rag.text.segment import SEGMENTATION_VERSION, clause_spans

Progress = Callable[[str, int, int], None]  # (stage, done, total)


def make_chunker(settings: Settings, embedder: Embedder) -> Chunker:
    chunking = settings.chunking
    return Chunker(
        count_tokens=tiktoken_counter(chunking.encoding),
        max_tokens=chunking.max_tokens,
        overlap_tokens=chunking.overlap_tokens,
        word_pieces=embedder.count_word_pieces,
        max_word_pieces=settings.embedding.max_word_pieces,
    )


def pools_sentences(settings: Settings, embedder: Embedder) -> bool:
    """Whether sentence and clause vectors come from the chunks' passes (``rag.index.pooled``)."""
    return settings.embedding.sentence_vectors == "pooled" and hasattr(embedder, "embed_with_spans")


def fingerprint_for(settings: Settings, embedder: Embedder, documents: Sequence[Document]) -> Fingerprint:
    index = settings.index
    return Fingerprint(
        format_version=FORMAT_VERSION,
        model=embedder.name,
        dim=embedder.dim,
        chunking={
            "encoding": settings.chunking.encoding,
            "max_tokens": settings.chunking.max_tokens,
            "overlap_tokens": settings.chunking.overlap_tokens,
            "max_word_pieces": settings.embedding.max_word_pieces,
            "segmentation": SEGMENTATION_VERSION,
            "analysis": ANALYSIS_VERSION,
        },
        index={
            "exact_below": index.exact_below,
            "hnsw_m": index.hnsw_m,
            "hnsw_ef_construction": ef_construction_for(index.hnsw_m),
            "terms": terms_signature(),  # saved term sets are stale when term-making changes
            "sentence_vectors": "pooled" if pools_sentences(settings, embedder) else "encoded",
        },
        documents={d.doc_id: d.sha256 for d in documents},
    )


def split_all(
    chunker: Chunker,
    documents: Sequence[Document],
    first_sentence: int = 0,
    first_chunk: int = 0,
    first_clause: int = 0,
) -> ChunkTable:
    """The sentences, clauses, chunks and answer candidates of ``documents``, numbered from the ids given."""
    sentences: list[Sentence] = []
    chunks: list[Chunk] = []
    for doc in documents:
        doc_sentences, doc_chunks = chunker.split(doc, first_sentence + len(sentences), first_chunk + len(chunks))
        sentences += doc_sentences
        chunks += doc_chunks
    texts = {d.doc_id: d.text for d in documents}
    clauses = [
        Clause(clause_id=0, sentence_id=s.sentence_id, doc_id=s.doc_id, start=a, end=b, text=texts[s.doc_id][a:b])
        for s in sentences
        for a, b in clause_spans(texts[s.doc_id], s.start, s.end)
    ]
    clauses = [msgspec.structs.replace(c, clause_id=first_clause + i) for i, c in enumerate(clauses)]
    return ChunkTable(sentences=sentences, clauses=clauses, chunks=chunks, candidates=analyse(sentences))


def embed_in_batches(
    embedder: Embedder, texts: Sequence[str], stage: str, progress: Progress | None, batch: int = 256
) -> Vectors:
    parts = [np.zeros((0, embedder.dim), dtype=np.float32)]
    for offset in range(0, len(texts), batch):
        parts.append(embedder.embed(texts[offset : offset + batch]))
        if progress:
            progress(stage, min(offset + batch, len(texts)), len(texts))
    return np.vstack(parts)


def embed_distinct(
    embedder: Embedder, groups: Sequence[Sequence[str]], progress: Progress | None, stage: str = "embedding"
) -> list[Vectors]:
    """Vectors for each group of texts, embedding every distinct text only once."""
    row_of: dict[str, int] = {}
    for texts in groups:
        for text in texts:
            row_of.setdefault(text, len(row_of))
    distinct = list(row_of)
    by_length = sorted(range(len(distinct)), key=lambda i: len(distinct[i]))  # batches of similar length pad less
    vectors = np.zeros((len(distinct), embedder.dim), dtype=np.float32)
    try:
        vectors[by_length] = embed_in_batches(embedder, [distinct[i] for i in by_length], stage, progress)
    finally:
        release = getattr(embedder, "release_bulk", None)  # an ONNX embedder's all-cores session
        if release is not None:
            release()
    return [
        np.ascontiguousarray(vectors[np.array([row_of[t] for t in texts], dtype=np.int64)], dtype=np.float32)
        if len(texts)
        else np.zeros((0, embedder.dim), dtype=np.float32)
        for texts in groups
    ]


def embed_rows(
    settings: Settings, embedder: Embedder, table: ChunkTable, progress: Progress | None = None
) -> tuple[Vectors, Vectors, Vectors]:
    """Chunk, sentence and clause vectors of ``table``'s rows: pooled from the chunks' passes or
    encoded one by one, as ``[embedding] sentence_vectors`` says (``pools_sentences``)."""
    if not pools_sentences(settings, embedder):
        chunks, sentences, clauses = embed_distinct(
            embedder,
            [[visible(row.text) for row in rows] for rows in (table.chunks, table.sentences, table.clauses)],
            progress,
        )
        return chunks, sentences, clauses
    try:
        return pooled_vectors(embedder, table, progress)  # type: ignore[arg-type]
    finally:
        getattr(embedder, "release_bulk", lambda: None)()


@dataclass(frozen=True)
class Build:
    content: IndexContent
    chunks_embedded: int  # chunks of new or changed documents, chunked and embedded now
    chunks_reused: int  # chunks of unchanged documents, vectors copied from the previous build


def assemble(
    settings: Settings,
    embedder: Embedder,
    documents: Sequence[Document],
    previous: IndexData | None = None,
    progress: Progress | None = None,
) -> Build:
    """The content of an index of ``documents``, in the order given.

    Every document that ``previous`` holds unchanged keeps its rows and vectors (renumbered);
    the others are chunked, analysed and embedded now, runs of consecutive ones together (with
    no ``previous``, all of them in one run: a full build).
    """
    chunker = make_chunker(settings, embedder)
    reusable = PreviousRows(previous) if previous is not None else None
    fresh = [d for d in documents if not unchanged(previous, d)]
    rows, done = Rows(), 0
    run: list[Document] = []  # consecutive documents to chunk now
    for doc in [*documents, None]:  # None ends the last run
        if doc is not None and not unchanged(previous, doc):
            run.append(doc)
            continue
        if run:
            rows.add_new(split_all(chunker, run, len(rows.sentences), len(rows.chunks), len(rows.clauses)))
            done += len(run)
            if progress:
                progress("chunking", done, len(fresh))
            run = []
        if doc is not None and reusable is not None:
            rows.add_reused(reusable, doc.doc_id)
    if progress and not fresh:
        progress("chunking", 1, 1)
    new_rows = rows.new_rows()
    embedded = embed_rows(settings, embedder, new_rows, progress)
    if progress and not new_rows.chunks:
        progress("embedding", 1, 1)
    chunk_vectors, sentence_vectors, clause_vectors = rows.vectors(previous, embedded)
    content = IndexContent(list(documents), rows.table(), chunk_vectors, sentence_vectors, clause_vectors)
    return Build(content, chunks_embedded=len(new_rows.chunks), chunks_reused=len(rows.reused_chunk_ids()))


def build_index(
    store: IndexStore,
    settings: Settings,
    embedder: Embedder,
    documents: Sequence[Document],
    progress: Progress | None = None,
    previous: IndexData | None = None,
) -> IndexData:
    """Chunk and embed ``documents`` (those ``previous`` holds unchanged are reused) and atomically
    replace the index in ``store``."""
    content = assemble(settings, embedder, documents, previous, progress).content
    return store.save(fingerprint_for(settings, embedder, documents), content, settings.index)
