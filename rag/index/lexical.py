"""BM25 over chunks (bm25s), on folded and stemmed terms so typography never blocks a match;
and the term sets of every sentence and clause, which answer extraction compares with the
question.

Both are computed when an index is built and saved with it (``save_lexical``), so opening an
index loads them (``load_lexical``) instead of tokenising and stemming every text again:
stemming is what made an open cost ~0.8 s at 1,251 chunks. The BM25 state is bm25s's own
``save`` (its sparse score matrix as .npy files); the term sets are
one vocabulary (``terms.msgpack``, with each term's chunk document frequency for the idf) and,
per table, the term ids of each row in CSR form (``<table>_terms.npy`` and
``<table>_terms_ptr.npy``), read into memory (a few bytes a row): a row's set is made when
it is first read.
"""

from __future__ import annotations

import functools
import hashlib
import math
import os
from collections.abc import Sequence
from pathlib import Path

import bm25s
import msgspec
import numpy as np
import numpy.typing as npt

from rag.durable import fsync_dir, write_array_synced, write_synced
from rag.text.normalize import content_terms

BM25_FOLDER = "bm25"
VOCABULARY_FILE = "terms.msgpack"
TABLES = ("sentence",)
# A change in how terms are made (folding, stop words, stemming) must invalidate saved terms:
# this text's terms are part of the index fingerprint (``terms_signature``).
_SIGNATURE_PROBE = (
    "The Négociations’ 2025 rounds: “who’s running?” — U.S.-led talks, re-opened & ratified; "
    "Running runners ran quickly through the databases' indexes, isn't it? A I x 3 B\bBo\bol\bld _\bu_\bn_\bd_\be_\br"
)


@functools.cache
def terms_signature() -> str:
    return hashlib.sha256(msgspec.json.encode(content_terms(_SIGNATURE_PROBE))).hexdigest()[:16]


class Vocabulary(msgspec.Struct, frozen=True):
    terms: list[str]
    chunk_df: list[int]  # chunks holding each term, for the idf
    chunks: int


class TermTable:
    """The content terms of each row of a table (sentences or clauses), as ids into a vocabulary."""

    def __init__(self, terms: Sequence[str], ids: npt.NDArray[np.int32], ptr: npt.NDArray[np.int64]) -> None:
        self.vocabulary = terms
        self.ids = ids  # term ids of every row, concatenated
        self.ptr = ptr  # row i's ids are ids[ptr[i]:ptr[i + 1]]

    @classmethod
    def build(cls, rows: Sequence[Sequence[str]], id_of: dict[str, int], terms: Sequence[str]) -> TermTable:
        ptr = np.zeros(len(rows) + 1, dtype=np.int64)
        ptr[1:] = np.cumsum([len(set(r)) for r in rows])
        ids = np.fromiter((id_of[t] for r in rows for t in sorted(set(r))), dtype=np.int32, count=int(ptr[-1]))
        return cls(terms, ids, ptr)

    @classmethod
    def of_texts(cls, texts: Sequence[str]) -> TermTable:
        rows = [content_terms(text) for text in texts]
        terms = sorted({term for row in rows for term in row})
        return cls.build(rows, {term: i for i, term in enumerate(terms)}, terms)

    def __len__(self) -> int:
        return len(self.ptr) - 1

    def terms(self, row: int) -> frozenset[str]:
        """The row's distinct content terms (``frozenset(content_terms(text))``)."""
        return self.terms_of_rows(row, row + 1)

    def terms_of_rows(self, first: int, end: int) -> frozenset[str]:
        """The distinct content terms of rows ``first`` to ``end`` (excluded)."""
        start, stop = int(self.ptr[first]), int(self.ptr[end])
        return frozenset([self.vocabulary[i] for i in np.unique(self.ids[start:stop]).tolist()])


class LexicalIndex:
    def __init__(self, texts: Sequence[str]) -> None:
        """BM25 over ``texts`` (chunks), computed now; ``load_lexical`` reads a saved one instead."""
        corpus = [content_terms(text) for text in texts]
        df: dict[str, int] = {}
        for terms in corpus:
            for term in set(terms):
                df[term] = df.get(term, 0) + 1
        bm25 = bm25s.BM25()
        if corpus:
            # bm25s cannot index an all-empty corpus; a placeholder term keeps shapes right.
            bm25.index([terms or ["\x00"] for terms in corpus], show_progress=False)
        self.bm25, self.document_frequency, self.size = bm25, df, len(corpus)
        self.corpus_terms = corpus  # what the index was built from; ``save_lexical`` reuses it

    @classmethod
    def from_saved(cls, bm25: bm25s.BM25, df: dict[str, int], size: int) -> LexicalIndex:
        index = cls.__new__(cls)
        index.bm25, index.document_frequency, index.size = bm25, df, size
        index.corpus_terms = []
        return index

    def scores(self, query: str, rows: npt.NDArray[np.int64] | None = None) -> npt.NDArray[np.float32]:
        """BM25 score of every chunk, in chunk order; only ``rows`` (if given) may score above 0."""
        terms = [t for t in content_terms(query) if t in self.document_frequency]
        if not terms or not self.size:
            return np.zeros(self.size, dtype=np.float32)
        scores = np.asarray(self.bm25.get_scores(terms), dtype=np.float32)
        if rows is not None:
            kept = np.zeros(self.size, dtype=np.float32)
            kept[rows] = scores[rows]
            return kept
        return scores

    def idf(self, term: str) -> float:
        """Robertson-Sparck Jones idf; unseen terms get the highest value."""
        df = self.document_frequency.get(term, 0)
        return math.log(1 + (self.size - df + 0.5) / (df + 0.5))

    def known(self, term: str) -> bool:
        return term in self.document_frequency


# -- persistence ---------------------------------------------------------------------------


def save_lexical(folder: Path, chunks: Sequence[str], tables: dict[str, Sequence[str]]) -> None:
    """Compute and write BM25 over ``chunks`` and the term tables of ``tables`` (by name) into
    ``folder``, every file fsynced."""
    lexical = LexicalIndex(chunks)
    rows = {name: [content_terms(text) for text in texts] for name, texts in tables.items()}
    every_row = [*lexical.corpus_terms, *(terms for table_rows in rows.values() for terms in table_rows)]
    vocabulary = sorted({term for terms in every_row for term in terms})
    id_of = {term: i for i, term in enumerate(vocabulary)}
    bm25_dir = folder / BM25_FOLDER
    if lexical.size:
        lexical.bm25.save(str(bm25_dir), show_progress=False)
        for path in bm25_dir.iterdir():  # bm25s writes plainly; make its files as durable as the rest
            with path.open("rb+") as handle:
                os.fsync(handle.fileno())
        fsync_dir(bm25_dir)
    df = [lexical.document_frequency.get(term, 0) for term in vocabulary]
    write_synced(folder / VOCABULARY_FILE, msgspec.msgpack.encode(Vocabulary(vocabulary, df, lexical.size)))
    for name, table_rows in rows.items():
        table = TermTable.build(table_rows, id_of, vocabulary)
        write_array_synced(folder / f"{name}_terms.npy", table.ids)
        write_array_synced(folder / f"{name}_terms_ptr.npy", table.ptr)


def load_lexical(folder: Path, tables: Sequence[str] = TABLES) -> tuple[LexicalIndex, dict[str, TermTable]]:
    """What ``save_lexical`` wrote: the BM25 index and the term tables, read into memory (they are
    small, and scoring BM25 or reading a term row from a mapped file took 2-3 times as long)."""
    vocabulary = msgspec.msgpack.decode((folder / VOCABULARY_FILE).read_bytes(), type=Vocabulary)
    df = {term: n for term, n in zip(vocabulary.terms, vocabulary.chunk_df, strict=True) if n}
    bm25 = bm25s.BM25.load(str(folder / BM25_FOLDER)) if vocabulary.chunks else bm25s.BM25()
    lexical = LexicalIndex.from_saved(bm25, df, vocabulary.chunks)
    loaded = {
        name: TermTable(
            vocabulary.terms,
            np.load(folder / f"{name}_terms.npy"),
            np.load(folder / f"{name}_terms_ptr.npy"),
        )
        for name in tables
    }
    return lexical, loaded
