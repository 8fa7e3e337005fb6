"""Documents at run time: add, replace or remove one document without re-embedding the others.

The build itself is ``rag.index.build.assemble``, given the previous build so that only the
changed document is chunked and embedded; this module validates an upload as a seed file
would be, writes the seed file atomically (temporary file, fsync, rename), saves the new build
through ``IndexStore.save`` (atomic too) and puts the seed files back if saving fails. It
takes no lock and swaps nothing: ``rag.engine.live.LiveEngine`` is the one owner of the engine
that serves, serialises writers (in this process and, through a lock file, across processes)
and swaps the returned engine in; requests in flight finish on the engine they started with.

``newer_build`` loads a build another process saved into the shared index folder, without
re-embedding anything.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import msgspec

from rag.config import Settings
from rag.documents.loading import SUFFIXES, decode_document, doc_id_for, folded_name, make_document
from rag.embedding.base import Embedder
from rag.engine.seed_files import SeedTransaction, seed_files_of
from rag.engine.service import WHITE_SPACE, QAService
from rag.errors import BadRequest, CorpusFull, DocumentError, UnknownDocument, UnusableIndex
from rag.index.build import Progress, assemble, fingerprint_for
from rag.index.content import IndexData
from rag.index.incremental import seed_order
from rag.index.store import IndexStore
from rag.records import DEFAULT_COLLECTION, Document, MetadataValue

log = logging.getLogger("rag.engine.updates")

MAX_DOC_ID_CHARS = 128

# What resolve_name and document_text accept, as the OpenAPI schema states it (ECMA 262 patterns
# that read the same in Python's re); the checks below stay the ones that refuse, with their
# plain 422 messages. A file name: bare (no '/'), something before a suffix the loaders read.
_SUFFIX = "|".join("".join(f"[{c}{c.upper()}]" for c in suffix[1:]) for suffix in SUFFIXES)
FILENAME_PATTERN = rf"^[^/]+\.(?:{_SUFFIX})$"
# ... that gives the id (no doc_id): an ASCII letter, digit or '_' in its stem, at most
# MAX_DOC_ID_CHARS characters, so the id it folds to is a valid one.
NAMING_FILENAME_PATTERN = rf"^[^/]*[A-Za-z0-9_][^/]*\.(?:{_SUFFIX})$"
_NAMING_CHARS = re.compile("[A-Za-z0-9_]")
# A text: no NUL, and not only white space.
TEXT_PATTERN = rf"^[^\x00]*[^{WHITE_SPACE}\x00][^\x00]*$"
Action = Literal["added", "replaced", "removed", "unchanged"]


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
            # ASCII before folding: lower() makes 'k' of the Kelvin sign, which the schema's pattern would not admit
            if not _NAMING_CHARS.search(name.stem) or not folded_name(name):  # such uploads would replace each other
                raise BadRequest(f"filename {filename!r} has no letters or digits to make an id from; give a doc_id")
            if len(filename) > MAX_DOC_ID_CHARS:
                limit = MAX_DOC_ID_CHARS
                raise BadRequest(f"a filename that gives the id has at most {limit} characters; give a doc_id")
            doc_id = doc_id_for(name)
    if doc_id is None:
        raise BadRequest("give a doc_id or a filename")
    return check_doc_id(doc_id), suffix


def check_limits(settings: Settings, documents: list[Document], adding: bool) -> None:
    """Refuse an upload that takes the corpus over ``[documents]`` (a replacement may keep the count)."""
    limits = settings.documents
    if adding and len(documents) > limits.max_documents:
        raise CorpusFull(f"the corpus holds its limit of {limits.max_documents} documents; remove one first")
    chars = sum(len(d.text) for d in documents)
    if chars > limits.max_corpus_chars:
        limit = limits.max_corpus_chars
        raise CorpusFull(f"the corpus would hold {chars} characters, over its limit of {limit}; remove documents first")


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
    if settings.store.backend == "postgres":
        return _apply_in_database(service, doc_id, upsert, progress, started)
    # The caller holds the writer lock (rag.engine.live.LiveEngine): nothing else writes meanwhile.
    base = _base(service, store)
    previous = base.documents.get(doc_id)
    if upsert is None and previous is None:
        raise UnknownDocument(f"no document with id {doc_id!r}")
    action: Action = "removed" if upsert is None else "added" if previous is None else "replaced"
    if upsert is not None and previous is not None and same_document(previous, upsert):
        unchanged = service if base is service.data else QAService(settings, service.embedder, base)
        return UpdateResult(unchanged, "unchanged", doc_id, previous.sha256, 0, 0, _ms(started))
    documents = [d for d in base.documents.values() if d.doc_id != doc_id]
    if upsert is not None:
        documents.append(upsert)
        check_limits(settings, documents, adding=previous is None)
    # In seed-file order, so the result is the index a full build of the new seeds folder would
    # make, and its fingerprint matches on the next start.
    build = assemble(settings, service.embedder, seed_order(documents), base, progress)
    seeds.mkdir(parents=True, exist_ok=True)
    transaction = SeedTransaction()
    try:
        for path in seed_files_of(seeds, doc_id):
            if upsert is None or path != Path(upsert.path):
                transaction.delete(path)
        if upsert is not None:
            transaction.write(Path(upsert.path), upsert.text.encode("utf-8"))
        fingerprint = fingerprint_for(settings, service.embedder, build.content.documents)
        data = store.save(fingerprint, build.content, settings.index)
    except BaseException:
        transaction.rollback()
        raise
    if progress:
        progress("saving", 1, 1)
    fresh = QAService(settings, service.embedder, data, service.skipped)
    log.info(
        "document %s %s: index %s, %d documents, %d chunks (%d embedded, %d reused)",
        doc_id, action, data.manifest.version, len(data.documents), data.manifest.chunks, build.chunks_embedded,
        build.chunks_reused,
    )  # fmt: skip
    previous_sha = previous.sha256 if previous is not None else None
    return UpdateResult(fresh, action, doc_id, previous_sha, build.chunks_embedded, build.chunks_reused, _ms(started))


def _apply_in_database(
    service: QAService, doc_id: str, upsert: Document | None, progress: Progress | None, started: float
) -> UpdateResult:
    """The same change in the PostgreSQL store: one transaction, no seed files, no lock file."""
    from rag.index.postgres import backend as database  # needs the optional .[postgres] drivers

    try:
        change = database.change_document(
            service.settings, service.embedder, upsert, None if upsert else doc_id, progress
        )
    except database.DocumentNotStored as error:
        raise UnknownDocument(str(error.args[0])) from error
    fresh = QAService(service.settings, service.embedder, database.load(service.settings), service.skipped)
    log.warning("document %s %s: store %s, %d chunks (%d embedded)", doc_id, change.action,
                fresh.data.manifest.version, fresh.data.manifest.chunks, change.chunks_embedded)  # fmt: skip
    return UpdateResult(fresh, change.action, doc_id, change.previous_sha256, change.chunks_embedded,
                        change.chunks_reused, _ms(started))  # fmt: skip


def same_document(old: Document, new: Document) -> bool:
    """Nothing to do: the same text, title, collection and metadata."""
    fields = ("sha256", "title", "collection", "metadata")
    return all(getattr(old, name) == getattr(new, name) for name in fields)


def upload(
    service: QAService,
    text: str,
    doc_id: str | None = None,
    filename: str | None = None,
    progress: Progress | None = None,
    collection: str = DEFAULT_COLLECTION,
    metadata: dict[str, MetadataValue] | None = None,
    title: str | None = None,
) -> UpdateResult:
    """Add or replace a document from its text, validated as a seed file would be.

    ``collection``, ``metadata`` and ``title`` (default: the text's first line) are what
    filters match (rag.retrieval.filters). The local store keeps them in its builds, not in the
    seed file, so a full rebuild from ``seeds/`` resets them; the PostgreSQL store keeps them.
    """
    doc_id, suffix = resolve_name(doc_id, filename)
    text = document_text(text, filename or doc_id + suffix)
    seeds = Path(service.settings.paths.seeds)
    existing = seed_files_of(seeds, doc_id)
    if filename is None and existing:  # a replacement keeps its file's kind unless told otherwise
        suffix = existing[0].suffix.lower()
    path = seeds / f"{doc_id}{suffix}"
    document = make_document(doc_id, text, str(path))
    document = msgspec.structs.replace(
        document, collection=collection, metadata=dict(metadata or {}), title=title or document.title
    )
    return apply_change(service, upsert=document, progress=progress)


def remove(service: QAService, doc_id: str, progress: Progress | None = None) -> UpdateResult:
    return apply_change(service, remove=doc_id, progress=progress)


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)


# -- builds saved by other processes --------------------------------------------------------


def newer_build(service: QAService) -> QAService | None:
    """A new engine if ``CURRENT`` names another build than ``service`` serves; else ``None``.

    Only a build made for this process's model and settings is taken (any documents); the
    documents' vectors are loaded, not recomputed.
    """
    if service.settings.store.backend == "postgres":
        from rag.index.postgres import backend as database

        if database.current_version(service.settings) == service.data.manifest.version:
            return None
        return QAService(service.settings, service.embedder, database.load(service.settings), service.skipped)
    store = IndexStore(Path(service.settings.paths.index))
    folder = store.current_dir()
    if folder is None or folder.name == f"v-{service.data.manifest.version}":
        return None
    data = current_data(store, service.settings, service.embedder)
    return QAService(service.settings, service.embedder, data, service.skipped)
