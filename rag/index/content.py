"""What an index holds, as the build computes it and as retrieval and answering read it.

``ChunkTable`` is the rows (sentences, clauses, chunks, answer candidates); ``IndexContent`` adds
their vectors, as a build makes them (``rag.index.build``) and a store keeps them
(``rag.index.store``, ``rag.index.postgres``); ``IndexData`` is a loaded index, whatever stores it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import msgspec
import numpy as np
import numpy.typing as npt

from rag.index.lexical import LexicalIndex, TermTable
from rag.index.manifest import Manifest
from rag.index.vectors import NearestVectors
from rag.records import Candidate, Chunk, Clause, Document, Sentence


class ChunkTable(msgspec.Struct, frozen=True):
    sentences: list[Sentence]
    clauses: list[Clause]
    chunks: list[Chunk]
    candidates: list[Candidate] = []  # answer candidates from the linguistic analysis, in sentence order


@dataclass(frozen=True)
class IndexContent:
    """What a build computes from the documents (``rag.index.build.assemble``) and a store keeps:
    the tables, and the vectors of their rows (row i = chunk, sentence or clause i)."""

    documents: list[Document]
    table: ChunkTable
    chunk_vectors: npt.NDArray[np.float32]
    sentence_vectors: npt.NDArray[np.float32]
    clause_vectors: npt.NDArray[np.float32]


@dataclass(frozen=True)
class IndexData:
    """A complete, loaded index: what retrieval and answering read.

    ``vectors`` and ``lexical`` may be served by a database (rag.index.postgres); when
    ``lexical`` is None the engine builds BM25 over ``chunks`` in memory.
    """

    manifest: Manifest
    documents: dict[str, Document]
    sentences: list[Sentence]
    chunks: list[Chunk]
    vectors: NearestVectors
    sentence_vectors: npt.NDArray[np.float32]
    clauses: list[Clause]
    clause_vectors: npt.NDArray[np.float32]
    candidates: list[Candidate]
    lexical: LexicalIndex | None = None
    # Loaded with a saved build; an IndexData made in memory leaves them None and computes them
    # from the texts on first use.
    saved_terms: dict[str, TermTable] | None = None

    @cached_property
    def chunks_by_id(self) -> dict[int, Chunk]:
        """The chunks by id: a database's chunk ids (rag.index.postgres) are not row numbers."""
        return {c.chunk_id: c for c in self.chunks}

    @cached_property
    def sentence_terms(self) -> TermTable:
        """Each sentence's content terms (row i = sentence i)."""
        saved = (self.saved_terms or {}).get("sentence")
        return saved or TermTable.of_texts([s.text for s in self.sentences])
