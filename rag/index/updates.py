"""Documents at run time: add, replace or remove one document without re-embedding the others.

An update starts from the live index and the new list of documents. Every document whose
text is unchanged keeps its sentences, clauses and chunks (renumbered, because ids are row
numbers) and its vectors: sentence and clause rows are copied from the ``.npy`` arrays, chunk
vectors are read back from FAISS by chunk id. Only the changed document is chunked and
embedded. Documents stay in seed-file order, so the result is the same table a full build of
the new seeds folder would make, and its fingerprint matches on the next start.

Writing happens under one writer lock (a lock file in the index folder, so a CLI and a
server, or two server workers, never interleave): the seed file is written atomically
(temporary file, fsync, rename), then the index is saved as a new build through
``IndexStore.save`` (atomic too). If saving fails, the seed files are put back. The caller
swaps the returned engine into place; requests in flight finish on the engine they started
with.

Other processes serving the same index folder (workers, replicas) notice a new build through
``follow`` (a poll of ``CURRENT``) and load it without re-embedding anything.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import msgspec
import numpy as np
import numpy.typing as npt

from rag.config import Settings
from rag.documents.loading import SUFFIXES, DocumentError, decode_document, doc_id_for, make_document
from rag.embedding.sentence_transformers import Embedder
from rag.engine.service import BadRequest, QAService, UnknownDocument
from rag.index.build import Progress, embed_distinct, fingerprint_for, make_chunker
from rag.index.durable import fsync_dir, write_atomically
from rag.index.store import ChunkTable, IndexData, IndexStore, UnusableIndex
from rag.index.vectors import FaissIndex, ef_construction_for, index_kind
from rag.records import Chunk, Clause, Document, Sentence
from rag.text.segment import clause_spans

log = logging.getLogger("rag.index.updates")

LOCK_FILE = ".writer.lock"
MAX_DOC_ID_CHARS = 128
Action = Literal["added", "replaced", "removed", "unchanged"]


class UpdateConflict(RuntimeError):
    """The update cannot run now (e.g. a full reindex is running); try again later."""


@dataclass(frozen=True)
class UpdateResult:
    service: QAService  # the new engine (the old one when nothing changed)
    action: Action
    doc_id: str
    previous_sha256: str | None
    chunks_embedded: int  # chunks of the changed document, chunked and embedded now
    chunks_reused: int  # chunks of the other documents, vectors copied from the previous build
    elapsed_ms: float


# -- validation --------------------------------------------------------------------------


def check_doc_id(doc_id: str) -> str:
    """``doc_id`` if it is what a seed file name would give (``[a-z0-9._-]``, no edge ``-``/``.``)."""
    if not doc_id or len(doc_id) > MAX_DOC_ID_CHARS or doc_id_for(Path(doc_id + ".txt")) != doc_id:
        raise BadRequest(
            f"doc_id must be 1-{MAX_DOC_ID_CHARS} characters of a-z, 0-9, '.', '_' and '-', "
            "not starting or ending with '.' or '-'"
        )
    return doc_id


def resolve_name(doc_id: str | None, filename: str | None) -> tuple[str, str]:
    """The document id and seed-file suffix for an upload: the id is ``doc_id``, else taken from
    ``filename`` as for a seed file; the suffix is the file name's (``.txt`` or ``.md``)."""
    suffix = ".txt"
    if filename is not None:
        name = Path(filename)
        if name.name != filename or filename in {".", ".."}:
            raise BadRequest("filename must be a bare file name, without folders")
        if name.suffix.lower() not in SUFFIXES:
            raise BadRequest(f"filename must end in {' or '.join(SUFFIXES)}")
        suffix = name.suffix.lower()
        if doc_id is None:
            doc_id = doc_id_for(name)
    if doc_id is None:
        raise BadRequest("give a doc_id or a filename")
    return check_doc_id(doc_id), suffix


def document_text(text: str, name: str) -> str:
    """The text if it would be accepted as a seed file (UTF-8, no NUL, not blank, not too large)."""
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError as error:  # lone surrogates from JSON escapes
        raise BadRequest(f"{name}: text contains a lone surrogate at position {error.start}") from error
    try:
        return decode_document(data, name)
    except DocumentError as error:
        raise BadRequest(str(error)) from error


# -- the incremental build -----------------------------------------------------------------


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
    reconstruct = getattr(index, "reconstruct", None)  # a public accessor, if vectors.py grows one
    if reconstruct is not None:
        return np.asarray(reconstruct(ids), dtype=np.float32)
    raw = index._index  # FaissIndex has no accessor for stored vectors yet
    return np.asarray(raw.reconstruct_batch(np.ascontiguousarray(ids, dtype=np.int64)), dtype=np.float32)


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
                sentences.append(msgspec.structs.replace(s, sentence_id=len(sentences)))
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
        table=ChunkTable(sentences=sentences, clauses=clauses, chunks=chunks),
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


# -- persistence ---------------------------------------------------------------------------


_process_lock = threading.Lock()


@contextlib.contextmanager
def writer_lock(index_root: Path) -> Iterator[None]:
    """One writer at a time, across threads and processes sharing ``index_root``."""
    index_root.mkdir(parents=True, exist_ok=True)
    with _process_lock, (index_root / LOCK_FILE).open("a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def seed_files_of(seeds: Path, doc_id: str) -> list[Path]:
    """Every seed file that names ``doc_id`` (e.g. ``notes.md`` and ``Notes.TXT`` both name ``notes``)."""
    if not seeds.is_dir():
        return []
    return sorted(
        p for p in seeds.iterdir() if p.is_file() and p.suffix.lower() in SUFFIXES and doc_id_for(p) == doc_id
    )


class SeedTransaction:
    """Seed-file changes that can be rolled back until the index that matches them is saved."""

    def __init__(self) -> None:
        self._undo: list[tuple[Path, bytes | None]] = []

    def _remember(self, path: Path) -> None:
        if any(p == path for p, _ in self._undo):
            return
        try:
            self._undo.append((path, path.read_bytes()))
        except FileNotFoundError:
            self._undo.append((path, None))

    def write(self, path: Path, data: bytes) -> None:
        self._remember(path)
        write_atomically(path, data)

    def delete(self, path: Path) -> None:
        self._remember(path)
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        fsync_dir(path.parent)

    def rollback(self) -> None:
        for path, data in reversed(self._undo):
            try:
                if data is None:
                    path.unlink(missing_ok=True)
                else:
                    write_atomically(path, data)
            except OSError:
                log.exception("could not restore seed file %s", path)


def current_data(store: IndexStore, settings: Settings, embedder: Embedder) -> IndexData:
    """The build ``CURRENT`` names, checked against this process's model and settings (any documents)."""
    manifest = store.read_manifest()
    expected = fingerprint_for(settings, embedder, [])
    expected = msgspec.structs.replace(expected, documents=manifest.fingerprint.documents)
    return store.load(expected, settings.index.hnsw_ef_search)


def _base(service: QAService, store: IndexStore) -> IndexData:
    """What to build on: the live engine's index, or a newer build another process saved."""
    try:
        folder = store.current_dir()
    except UnusableIndex:
        folder = None
    if folder is None or folder.name == f"v-{service.data.manifest.version}":
        return service.data
    log.info("building on %s, saved by another process since this one loaded", folder.name)
    return current_data(store, service.settings, service.embedder)


def apply_change(
    service: QAService,
    upsert: Document | None = None,
    remove: str | None = None,
    progress: Progress | None = None,
) -> UpdateResult:
    """Add or replace ``upsert`` (its ``path`` names its seed file), or remove the document ``remove``."""
    started = time.perf_counter()
    settings = service.settings
    seeds, root = Path(settings.paths.seeds), Path(settings.paths.index)
    store = IndexStore(root)
    doc_id = upsert.doc_id if upsert is not None else remove
    assert doc_id is not None and (upsert is None) != (remove is None)
    with writer_lock(root):
        base = _base(service, store)
        previous = base.documents.get(doc_id)
        if upsert is None and previous is None:
            raise UnknownDocument(f"no document with id {doc_id!r}")
        action: Action = "removed" if upsert is None else "added" if previous is None else "replaced"
        if upsert is not None and previous is not None and previous.sha256 == upsert.sha256:
            unchanged = service if base is service.data else QAService(settings, service.embedder, base)
            return UpdateResult(unchanged, "unchanged", doc_id, previous.sha256, 0, 0, _ms(started))
        documents = [d for d in base.documents.values() if d.doc_id != doc_id]
        if upsert is not None:
            documents.append(upsert)
        build = build_incrementally(settings, service.embedder, base, documents, progress)
        seeds.mkdir(parents=True, exist_ok=True)
        transaction = SeedTransaction()
        try:
            for path in seed_files_of(seeds, doc_id):
                if upsert is None or path != Path(upsert.path):
                    transaction.delete(path)
            if upsert is not None:
                transaction.write(Path(upsert.path), upsert.text.encode("utf-8"))
            manifest = store.save(
                fingerprint_for(settings, service.embedder, build.documents),
                build.documents,
                build.table,
                build.vectors,
                build.sentence_vectors,
                build.clause_vectors,
            )
        except BaseException:
            transaction.rollback()
            raise
        if progress:
            progress("saving", 1, 1)
    data = IndexData(
        manifest=manifest,
        documents={d.doc_id: d for d in build.documents},
        sentences=build.table.sentences,
        chunks=build.table.chunks,
        vectors=build.vectors,
        sentence_vectors=build.sentence_vectors,
        clauses=build.table.clauses,
        clause_vectors=build.clause_vectors,
    )
    fresh = QAService(settings, service.embedder, data, service.skipped)
    log.info(
        "document %s %s: index %s, %d documents, %d chunks (%d embedded, %d reused)",
        doc_id, action, manifest.version, len(data.documents), manifest.chunks, build.chunks_embedded,
        build.chunks_reused,
    )  # fmt: skip
    previous_sha = previous.sha256 if previous is not None else None
    return UpdateResult(fresh, action, doc_id, previous_sha, build.chunks_embedded, build.chunks_reused, _ms(started))


def upload(
    service: QAService,
    text: str,
    doc_id: str | None = None,
    filename: str | None = None,
    progress: Progress | None = None,
) -> UpdateResult:
    """Add or replace a document from its text, validated as a seed file would be."""
    doc_id, suffix = resolve_name(doc_id, filename)
    text = document_text(text, filename or doc_id + suffix)
    seeds = Path(service.settings.paths.seeds)
    existing = seed_files_of(seeds, doc_id)
    if filename is None and existing:  # a replacement keeps its file's kind unless told otherwise
        suffix = existing[0].suffix.lower()
    path = seeds / f"{doc_id}{suffix}"
    return apply_change(service, upsert=make_document(doc_id, text, str(path)), progress=progress)


def remove(service: QAService, doc_id: str, progress: Progress | None = None) -> UpdateResult:
    return apply_change(service, remove=doc_id, progress=progress)


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)


# -- following builds saved by other processes ----------------------------------------------


def newer_build(service: QAService) -> QAService | None:
    """A new engine if ``CURRENT`` names another build than ``service`` serves; else ``None``.

    Only a build made for this process's model and settings is taken (any documents); the
    documents' vectors are loaded, not recomputed.
    """
    store = IndexStore(Path(service.settings.paths.index))
    folder = store.current_dir()
    if folder is None or folder.name == f"v-{service.data.manifest.version}":
        return None
    data = current_data(store, service.settings, service.embedder)
    return QAService(service.settings, service.embedder, data, service.skipped)


def follow(get: Callable[[], QAService | None], put: Callable[[QAService], None], stop: threading.Event,
           interval_s: float) -> None:  # fmt: skip
    """Poll ``CURRENT`` every ``interval_s`` and swap in builds that other processes saved."""
    while not stop.wait(interval_s):
        service = get()
        if service is None:
            continue
        try:
            fresh = newer_build(service)
        except UnusableIndex as error:
            log.warning("not following the index: %s", error)
            continue
        except Exception:
            log.exception("not following the index")
            continue
        if fresh is not None and get() is service:
            put(fresh)
            log.info("loaded index %s saved by another process", fresh.data.manifest.version)
