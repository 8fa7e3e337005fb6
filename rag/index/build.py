"""Building an index from documents: chunk, embed chunks and sentences, store.

Sentences and clauses are embedded at build time as well as chunks, so answer extraction at
query time needs only the question's vector. Each distinct text is embedded once: most
clauses are whole sentences and many short chunks are one sentence, so this skips about a
third of the model's work on the seed corpus. The vector index is exact below
``[index] exact_below`` chunks and HNSW above (``rag.index.vectors``); the manifest says which.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import msgspec
import numpy as np

from rag.config import Settings
from rag.embedding.base import Embedder, Vectors
from rag.index.lexical import terms_signature
from rag.index.pooled import pooled_vectors
from rag.index.store import FORMAT_VERSION, ChunkTable, Fingerprint, IndexStore, Manifest
from rag.index.vectors import FaissIndex, ef_construction_for, index_kind
from rag.records import Chunk, Clause, Document, Sentence
from rag.text.chunk import Chunker, tiktoken_counter
from rag.text.linguistics import ANALYSIS_VERSION, analyse
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


def split_all(chunker: Chunker, documents: Sequence[Document]) -> ChunkTable:
    sentences: list[Sentence] = []
    chunks: list[Chunk] = []
    for doc in documents:
        doc_sentences, doc_chunks = chunker.split(doc, len(sentences), len(chunks))
        sentences += doc_sentences
        chunks += doc_chunks
    texts = {d.doc_id: d.text for d in documents}
    clauses = [
        Clause(clause_id=0, sentence_id=s.sentence_id, doc_id=s.doc_id, start=a, end=b, text=texts[s.doc_id][a:b])
        for s in sentences
        for a, b in clause_spans(texts[s.doc_id], s.start, s.end)
    ]
    clauses = [msgspec.structs.replace(c, clause_id=i) for i, c in enumerate(clauses)]
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


def build_index(
    store: IndexStore,
    settings: Settings,
    embedder: Embedder,
    documents: Sequence[Document],
    progress: Progress | None = None,
) -> Manifest:
    """Chunk and embed ``documents`` and atomically replace the index in ``store``."""
    table = split_all(make_chunker(settings, embedder), documents)
    if pools_sentences(settings, embedder):
        try:
            chunk_vectors, sentence_vectors, clause_vectors = pooled_vectors(embedder, table, progress)  # type: ignore[arg-type]
        finally:
            getattr(embedder, "release_bulk", lambda: None)()
    else:
        chunk_vectors, sentence_vectors, clause_vectors = embed_distinct(
            embedder,
            [[c.text for c in table.chunks], [s.text for s in table.sentences], [c.text for c in table.clauses]],
            progress,
        )
    kind = index_kind(len(table.chunks), settings.index.exact_below)
    vectors = FaissIndex.create(
        embedder.dim,
        kind,
        settings.index.hnsw_m,
        settings.index.hnsw_ef_search,
        ef_construction_for(settings.index.hnsw_m),
    )
    vectors.add(chunk_vectors, np.array([c.chunk_id for c in table.chunks], dtype=np.int64))
    fingerprint = fingerprint_for(settings, embedder, documents)
    return store.save(fingerprint, list(documents), table, vectors, sentence_vectors, clause_vectors)
