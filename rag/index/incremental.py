"""The incremental build: the index of a new document list, re-embedding only what changed.

An update starts from a loaded index and the new list of documents. Every document whose
text is unchanged keeps its sentences, clauses and chunks (renumbered, because ids are row
numbers) and its vectors: sentence and clause rows are copied from the ``.npy`` arrays, chunk
vectors are read back from FAISS by chunk id. Only the changed document is chunked and
embedded. Documents stay in seed-file order, so the result is the same table a full build of
the new seeds folder would make, and its fingerprint matches on the next start.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import msgspec
import numpy as np
import numpy.typing as npt

from rag.config import Settings
from rag.embedding.base import Embedder
from rag.index.build import Progress, embed_distinct, make_chunker
from rag.index.store import ChunkTable, IndexData
from rag.index.vectors import FaissIndex, ef_construction_for, index_kind
from rag.records import Candidate, Chunk, Clause, Document, Sentence
from rag.text.linguistics import analyse
from rag.text.segment import clause_spans


@dataclass(frozen=True)
class Build:
    documents: list[Document]
    table: ChunkTable
    vectors: FaissIndex
    sentence_vectors: npt.NDArray[np.float32]
    clause_vectors: npt.NDArray[np.float32]
    chunks_embedded: int
    chunks_reused: int


def seed_order(documents: Sequence[Document]) -> list[Document]:
    """Documents in the order ``load_documents`` reads them: by seed-file name."""
    return sorted(documents, key=lambda d: (Path(d.path).name, d.doc_id))


def stored_chunk_vectors(index: FaissIndex, ids: npt.NDArray[np.int64], dim: int) -> npt.NDArray[np.float32]:
    """Chunk vectors read back from the FAISS index by id (``IndexIDMap2`` keeps the id map)."""
    if not len(ids):
        return np.zeros((0, dim), dtype=np.float32)
    return index.reconstruct(ids)


def build_incrementally(
    settings: Settings,
    embedder: Embedder,
    previous: IndexData,
    documents: Sequence[Document],
    progress: Progress | None = None,
) -> Build:
    """The index of ``documents``, reusing ``previous``'s rows for every unchanged document."""
    documents = seed_order(documents)
    sentences_of: dict[str, list[Sentence]] = {}
    chunks_of: dict[str, list[Chunk]] = {}
    clauses_of: dict[str, list[Clause]] = {}
    for s in previous.sentences:
        sentences_of.setdefault(s.doc_id, []).append(s)
    for c in previous.chunks:
        chunks_of.setdefault(c.doc_id, []).append(c)
    for cl in previous.clauses:
        clauses_of.setdefault(cl.doc_id, []).append(cl)

    chunker = make_chunker(settings, embedder)
    sentences: list[Sentence] = []
    chunks: list[Chunk] = []
    clauses: list[Clause] = []
    # Where each row's vector comes from: a row of the previous build, or -1 for "embed now".
    sentence_source: list[int] = []
    chunk_source: list[int] = []
    clause_source: list[int] = []
    fresh = [d for d in documents if _reusable(previous, d) is None]
    done = 0
    for doc in documents:
        old = _reusable(previous, doc)
        if old is not None:
            renumber: dict[int, int] = {}
            for s in sentences_of.get(doc.doc_id, []):
                renumber[s.sentence_id] = len(sentences)
                sentence_source.append(s.sentence_id)
                context = renumber.get(s.context, -1)  # a section title precedes what it titles
                sentences.append(msgspec.structs.replace(s, sentence_id=len(sentences), context=context))
            for c in chunks_of.get(doc.doc_id, []):
                chunk_source.append(c.chunk_id)
                ids = tuple(renumber[i] for i in c.sentence_ids)
                chunks.append(msgspec.structs.replace(c, chunk_id=len(chunks), sentence_ids=ids))
            for cl in clauses_of.get(doc.doc_id, []):
                clause_source.append(cl.clause_id)
                clauses.append(
                    msgspec.structs.replace(cl, clause_id=len(clauses), sentence_id=renumber[cl.sentence_id])
                )
            continue
        done += 1
        if progress:
            progress("chunking", done, len(fresh))
        new_sentences, new_chunks = chunker.split(doc, len(sentences), len(chunks))
        sentences += new_sentences
        chunks += new_chunks
        sentence_source += [-1] * len(new_sentences)
        chunk_source += [-1] * len(new_chunks)
        for s in new_sentences:
            for a, b in clause_spans(doc.text, s.start, s.end):
                clause_source.append(-1)
                clauses.append(
                    Clause(clause_id=len(clauses), sentence_id=s.sentence_id, doc_id=doc.doc_id, start=a, end=b,
                           text=doc.text[a:b])
                )  # fmt: skip
    if progress and not fresh:
        progress("chunking", 1, 1)

    def new_texts(rows: Sequence[Sentence | Chunk | Clause], source: list[int]) -> list[str]:
        return [r.text for r, src in zip(rows, source, strict=True) if src < 0]

    embedded = embed_distinct(
        embedder,
        [new_texts(chunks, chunk_source), new_texts(sentences, sentence_source), new_texts(clauses, clause_source)],
        progress,
    )
    if progress and not any(len(e) for e in embedded):
        progress("embedding", 1, 1)
    dim = embedder.dim
    old_chunk_ids = np.array([s for s in chunk_source if s >= 0], dtype=np.int64)
    assert isinstance(previous.vectors, FaissIndex)  # the local store's; the database writes rows itself
    chunk_vectors = _assemble(chunk_source, stored_chunk_vectors(previous.vectors, old_chunk_ids, dim), embedded[0])
    sentence_vectors = _assemble(
        sentence_source, previous.sentence_vectors[[s for s in sentence_source if s >= 0]], embedded[1]
    )
    clause_vectors = _assemble(
        clause_source, previous.clause_vectors[[s for s in clause_source if s >= 0]], embedded[2]
    )

    index = settings.index
    vectors = FaissIndex.create(
        dim, index_kind(len(chunks), index.exact_below), index.hnsw_m, index.hnsw_ef_search,
        ef_construction_for(index.hnsw_m),
    )  # fmt: skip
    vectors.add(chunk_vectors, np.arange(len(chunks), dtype=np.int64))
    if progress:
        progress("indexing", 1, 1)
    return Build(
        documents=documents,
        table=ChunkTable(
            sentences=sentences,
            clauses=clauses,
            chunks=chunks,
            candidates=reuse_or_analyse(previous, sentences, sentence_source),
        ),
        vectors=vectors,
        sentence_vectors=sentence_vectors,
        clause_vectors=clause_vectors,
        chunks_embedded=len(embedded[0]),
        chunks_reused=len(old_chunk_ids),
    )


def _reusable(previous: IndexData, doc: Document) -> Document | None:
    old = previous.documents.get(doc.doc_id)
    return old if old is not None and old.sha256 == doc.sha256 and old.text == doc.text else None


def _assemble(
    source: list[int], reused: npt.NDArray[np.float32], embedded: npt.NDArray[np.float32]
) -> npt.NDArray[np.float32]:
    """Rows in table order: reused rows where ``source >= 0``, freshly embedded rows elsewhere."""
    dim = reused.shape[1] if reused.ndim == 2 and reused.shape[1] else embedded.shape[1]
    out = np.zeros((len(source), dim), dtype=np.float32)
    mask = np.array([s >= 0 for s in source], dtype=bool)
    if mask.any():
        out[mask] = reused
    if (~mask).any():
        out[~mask] = embedded
    return np.ascontiguousarray(out)


def reuse_or_analyse(previous: IndexData, sentences: list[Sentence], source: list[int]) -> list[Candidate]:
    """Answer candidates in sentence order: the previous build's for reused sentences
    (renumbered), a fresh linguistic analysis for new ones."""
    previous_of: dict[int, list[Candidate]] = {}
    for c in previous.candidates:
        previous_of.setdefault(c.sentence_id, []).append(c)
    fresh_of: dict[int, list[Candidate]] = {}
    for c in analyse([s for s, src in zip(sentences, source, strict=True) if src < 0]):
        fresh_of.setdefault(c.sentence_id, []).append(c)
    found: list[Candidate] = []
    for sentence, src in zip(sentences, source, strict=True):
        if src >= 0:
            found += [msgspec.structs.replace(c, sentence_id=sentence.sentence_id) for c in previous_of.get(src, [])]
        else:
            found += fresh_of.get(sentence.sentence_id, [])
    return found
