"""Sentence and clause vectors from the chunks' own forward passes (``[embedding]
sentence_vectors = "pooled"``).

Encoding every sentence and clause on its own is most of an index build's model time: the
text goes through the model up to three times (chunk, sentence, clause). Pooling instead runs
each chunk once and averages, for each sentence and clause, the hidden states of its word
pieces inside the chunk (``OnnxEmbedder.embed_with_spans``). Each sentence is pooled in the
first chunk that holds it (chunks are runs of whole sentences, so one always does), and each
clause in its sentence's chunk. The vectors differ from encoded ones (a word piece's state
sees the whole chunk), so the setting is part of the index fingerprint; benchmarks/pooling.py
compares both ways on the gold sets.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np

from rag.embedding.base import Vectors
from rag.index.content import ChunkTable
from rag.records import Clause, Sentence

Progress = Callable[[str, int, int], None]  # (stage, done, total)
CHUNKS_PER_CALL = 256


class SpanEmbedder(Protocol):
    dim: int

    def embed_with_spans(
        self, texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]]
    ) -> tuple[Vectors, list[Vectors]]: ...


def pooled_vectors(
    embedder: SpanEmbedder, table: ChunkTable, progress: Progress | None = None
) -> tuple[Vectors, Vectors, Vectors]:
    """Chunk, sentence and clause vectors (rows in table order) from one pass per chunk."""
    row_of_chunk = {c.chunk_id: row for row, c in enumerate(table.chunks)}
    home: dict[int, int] = {}  # sentence id -> row of the first chunk holding it
    for chunk in table.chunks:
        for sentence_id in chunk.sentence_ids:
            home.setdefault(sentence_id, row_of_chunk[chunk.chunk_id])
    spans: list[list[tuple[int, int]]] = [[] for _ in table.chunks]
    targets: list[list[tuple[int, int]]] = [[] for _ in table.chunks]  # (0 sentence | 1 clause, row)
    units: tuple[Sequence[Sentence | Clause], ...] = (table.sentences, table.clauses)
    for kind, rows in enumerate(units):
        for row, unit in enumerate(rows):
            chunk_row = home[unit.sentence_id]
            chunk = table.chunks[chunk_row]
            spans[chunk_row].append((unit.start - chunk.start, unit.end - chunk.start))
            targets[chunk_row].append((kind, row))
    out = [np.zeros((len(rows), embedder.dim), dtype=np.float32) for rows in (table.sentences, table.clauses)]
    chunk_vectors = np.zeros((len(table.chunks), embedder.dim), dtype=np.float32)
    for offset in range(0, len(table.chunks), CHUNKS_PER_CALL):
        window = range(offset, min(offset + CHUNKS_PER_CALL, len(table.chunks)))
        vectors, span_vectors = embedder.embed_with_spans(
            [table.chunks[i].text for i in window], [spans[i] for i in window]
        )
        chunk_vectors[offset : offset + len(window)] = vectors
        for i, found in zip(window, span_vectors, strict=True):
            for (kind, row), vector in zip(targets[i], found, strict=True):
                out[kind][row] = vector
        if progress:
            progress("embedding", window.stop, len(table.chunks))
    return chunk_vectors, out[0], out[1]
