"""Reusing a previous build: every unchanged document keeps its rows and vectors.

``rag.index.build.assemble`` builds every index (full, incremental, re-index, the database's);
this module is what it needs to start from a previous build. A document whose text is unchanged
keeps its sentences, clauses, chunks and answer candidates, renumbered because ids are row
numbers, and its vectors: sentence and clause rows are copied from the previous arrays, chunk
vectors are read back from FAISS by chunk id. ``Rows`` collects the new table in document order
and remembers where each row's vector comes from, so only the new rows are embedded.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import msgspec
import numpy as np
import numpy.typing as npt

from rag.index.content import ChunkTable, IndexData
from rag.index.vectors import FaissIndex
from rag.records import Candidate, Chunk, Clause, Document, Sentence

NEW = -1  # the source of a row embedded in this build


def seed_order(documents: Sequence[Document]) -> list[Document]:
    """Documents in the order ``load_documents`` reads them: by seed-file name."""
    return sorted(documents, key=lambda d: (Path(d.path).name, d.doc_id))


def unchanged(previous: IndexData | None, doc: Document) -> bool:
    """Whether ``previous`` holds ``doc`` with the same text, so its rows can be reused."""
    old = previous.documents.get(doc.doc_id) if previous is not None else None
    return old is not None and old.sha256 == doc.sha256 and old.text == doc.text


class PreviousRows:
    """A previous build's rows, grouped by document."""

    def __init__(self, previous: IndexData) -> None:
        self.data = previous
        self.sentences: dict[str, list[Sentence]] = {}
        self.chunks: dict[str, list[Chunk]] = {}
        self.clauses: dict[str, list[Clause]] = {}
        self.candidates: dict[int, list[Candidate]] = {}  # by sentence id
        for s in previous.sentences:
            self.sentences.setdefault(s.doc_id, []).append(s)
        for c in previous.chunks:
            self.chunks.setdefault(c.doc_id, []).append(c)
        for cl in previous.clauses:
            self.clauses.setdefault(cl.doc_id, []).append(cl)
        for candidate in previous.candidates:
            self.candidates.setdefault(candidate.sentence_id, []).append(candidate)


@dataclass
class Rows:
    """A table being assembled in document order, with each row's source: its row in the
    previous build, or ``NEW``."""

    sentences: list[Sentence] = field(default_factory=list)
    clauses: list[Clause] = field(default_factory=list)
    chunks: list[Chunk] = field(default_factory=list)
    candidates: list[Candidate] = field(default_factory=list)
    sentence_source: list[int] = field(default_factory=list)
    clause_source: list[int] = field(default_factory=list)
    chunk_source: list[int] = field(default_factory=list)

    def add_new(self, part: ChunkTable) -> None:
        """Rows chunked now, already numbered from this table's next ids."""
        self.sentences += part.sentences
        self.clauses += part.clauses
        self.chunks += part.chunks
        self.candidates += part.candidates
        self.sentence_source += [NEW] * len(part.sentences)
        self.clause_source += [NEW] * len(part.clauses)
        self.chunk_source += [NEW] * len(part.chunks)

    def add_reused(self, previous: PreviousRows, doc_id: str) -> None:
        """The rows of an unchanged document, renumbered from this table's next ids."""
        replace = msgspec.structs.replace
        renumber: dict[int, int] = {}
        for s in previous.sentences.get(doc_id, []):
            sentence_id = renumber[s.sentence_id] = len(self.sentences)
            self.sentence_source.append(s.sentence_id)
            context = renumber.get(s.context, -1)  # a section title precedes what it titles
            self.sentences.append(replace(s, sentence_id=sentence_id, context=context))
            self.candidates += [replace(c, sentence_id=sentence_id) for c in previous.candidates.get(s.sentence_id, [])]
        for c in previous.chunks.get(doc_id, []):
            self.chunk_source.append(c.chunk_id)
            ids = tuple(renumber[i] for i in c.sentence_ids)
            self.chunks.append(replace(c, chunk_id=len(self.chunks), sentence_ids=ids))
        for cl in previous.clauses.get(doc_id, []):
            self.clause_source.append(cl.clause_id)
            self.clauses.append(replace(cl, clause_id=len(self.clauses), sentence_id=renumber[cl.sentence_id]))

    def table(self) -> ChunkTable:
        return ChunkTable(self.sentences, self.clauses, self.chunks, self.candidates)

    def new_rows(self) -> ChunkTable:
        """Only the rows to embed now (whole documents, so each sentence's chunk is among them)."""
        return ChunkTable(
            sentences=[r for r, src in zip(self.sentences, self.sentence_source, strict=True) if src == NEW],
            clauses=[r for r, src in zip(self.clauses, self.clause_source, strict=True) if src == NEW],
            chunks=[r for r, src in zip(self.chunks, self.chunk_source, strict=True) if src == NEW],
        )

    def vectors(
        self, previous: IndexData | None, embedded: tuple[npt.NDArray[np.float32], ...]
    ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32], npt.NDArray[np.float32]]:
        """Chunk, sentence and clause vectors in table order: copied for reused rows, ``embedded``
        (the vectors of ``new_rows``, in the same three tables) for the others."""
        dim = embedded[0].shape[1]
        if previous is None:
            reused = (np.zeros((0, dim), dtype=np.float32),) * 3
        else:
            assert isinstance(previous.vectors, FaissIndex)  # the local store's; the database keeps its own rows
            reused = (
                stored_chunk_vectors(previous.vectors, self.reused_chunk_ids(), dim),
                previous.sentence_vectors[[s for s in self.sentence_source if s != NEW]],
                previous.clause_vectors[[s for s in self.clause_source if s != NEW]],
            )
        sources = (self.chunk_source, self.sentence_source, self.clause_source)
        chunks, sentences, clauses = (
            merged(src, old, new) for src, old, new in zip(sources, reused, embedded, strict=True)
        )
        return chunks, sentences, clauses

    def reused_chunk_ids(self) -> npt.NDArray[np.int64]:
        return np.array([s for s in self.chunk_source if s != NEW], dtype=np.int64)


def stored_chunk_vectors(index: FaissIndex, ids: npt.NDArray[np.int64], dim: int) -> npt.NDArray[np.float32]:
    """Chunk vectors read back from the FAISS index by id (``IndexIDMap2`` keeps the id map)."""
    if not len(ids):
        return np.zeros((0, dim), dtype=np.float32)
    return index.reconstruct(ids)


def merged(
    source: list[int], reused: npt.NDArray[np.float32], embedded: npt.NDArray[np.float32]
) -> npt.NDArray[np.float32]:
    """Rows in table order: reused rows where ``source`` names a previous row, embedded ones elsewhere."""
    out = np.zeros((len(source), embedded.shape[1]), dtype=np.float32)
    mask = np.array([s != NEW for s in source], dtype=bool)
    if mask.any():
        out[mask] = reused
    if (~mask).any():
        out[~mask] = embedded
    return np.ascontiguousarray(out)
