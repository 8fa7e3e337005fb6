"""The index directory: versioned builds, a manifest with checksums, atomic swaps.

Layout::

    index/
      CURRENT                 name of the live build, replaced atomically (os.replace)
      v-<version>/
        manifest.json         format version, model, settings, document hashes, file checksums
        documents.msgpack     the documents, raw text included
        chunks.msgpack        sentences and chunks with their spans
        dense.faiss           chunk vectors (ids = chunk ids)
        sentences.npy         sentence vectors, row i = sentence i
        clauses.npy           clause vectors, row i = clause i
        bm25/                 BM25 over the chunks (bm25s's own files)
        terms.msgpack         the term vocabulary, with chunk document frequencies
        sentence_terms*.npy   each sentence's term ids (CSR)

A build is written to a hidden temporary folder, renamed into place, and only then named in
``CURRENT``; a crash at any point leaves the previous build live. Loading checks every file
against its checksum and the manifest against what the running service expects, and says
why it refuses, so the caller can rebuild. Everything retrieval derives from the texts (BM25,
term sets) is computed by ``save`` and loaded by ``load``: opening an index tokenises nothing.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import time
import uuid
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import msgspec
import numpy as np
import numpy.typing as npt
from filelock import FileLock

from rag.config import IndexSettings
from rag.durable import fsync_dir, make_unique_dir, read_checked, sha256_file, write_array_synced, write_synced
from rag.errors import UnusableIndex
from rag.index.content import ChunkTable, IndexContent, IndexData
from rag.index.lexical import TABLES, LexicalIndex, TermTable, load_lexical, save_lexical
from rag.index.manifest import Fingerprint, Manifest, difference
from rag.index.vectors import FaissIndex, NearestVectors, ef_construction_for, index_kind
from rag.records import Document

CURRENT = "CURRENT"
WRITER_LOCK = ".writer.lock"  # held by whoever changes seeds or builds, in any process
KEEP_BUILDS = 2
STALE_STAGING_S = 3600  # abandoned staging folders older than this are removed
STAGING_PREFIX = ".build-"
_BUILD_NAME = re.compile(r"v-[0-9a-f]{16}")
# Files decoded from the bytes read to check them; the others are read (the big ones mapped) by their readers.
DECODED_FROM_MEMORY = ("documents.msgpack", "chunks.msgpack", "dense.faiss")


class IndexStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def writer_lock(self) -> FileLock:
        """The lock file that makes one writer at a time across the processes sharing this folder
        (a CLI and a server, or two server workers); released by the OS if its holder dies."""
        self.root.mkdir(parents=True, exist_ok=True)
        return FileLock(self.root / WRITER_LOCK)

    def current_dir(self) -> Path | None:
        """The live build named by ``CURRENT``; ``UnusableIndex`` if the pointer is garbage."""
        pointer = self.root / CURRENT
        try:
            name = pointer.read_bytes().decode("utf-8").strip()
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as error:
            raise UnusableIndex(f"unreadable {pointer}: {error}") from error
        if not name:
            return None
        if not _BUILD_NAME.fullmatch(name):  # never follow a pointer out of the index folder
            raise UnusableIndex(f"{pointer} names {name[:80]!r}, which is not a build of this index")
        return self.root / name

    def save(self, fingerprint: Fingerprint, content: IndexContent, index: IndexSettings) -> IndexData:
        """Write a new build and make it current, atomically; the index as ``load`` would give it."""
        table = content.table
        vectors = FaissIndex.create(
            content.chunk_vectors.shape[1], index_kind(len(table.chunks), index.exact_below), index.hnsw_m,
            index.hnsw_ef_search, ef_construction_for(index.hnsw_m),
        )  # fmt: skip
        vectors.add(content.chunk_vectors, np.array([c.chunk_id for c in table.chunks], dtype=np.int64))
        self.root.mkdir(parents=True, exist_ok=True)
        staging = make_unique_dir(self.root, STAGING_PREFIX)
        try:
            write_synced(staging / "documents.msgpack", msgspec.msgpack.encode(content.documents))
            write_synced(staging / "chunks.msgpack", msgspec.msgpack.encode(table))
            vectors.save(staging / "dense.faiss")
            write_array_synced(staging / "sentences.npy", content.sentence_vectors)
            write_array_synced(staging / "clauses.npy", content.clause_vectors)
            save_lexical(staging, [c.text for c in table.chunks], {"sentence": [s.text for s in table.sentences]})
            files = {str(p.relative_to(staging)): sha256_file(p) for p in sorted(staging.rglob("*")) if p.is_file()}
            version = hashlib.sha256(msgspec.json.encode([fingerprint, files])).hexdigest()[:16]
            manifest = Manifest(
                fingerprint=fingerprint,
                version=version,
                created_at=time.time(),
                index_kind=vectors.kind,
                chunks=len(table.chunks),
                sentences=len(table.sentences),
                files=files,
            )
            write_synced(staging / "manifest.json", msgspec.json.format(msgspec.json.encode(manifest)))
            final = self.root / f"v-{version}"
            existing = _reusable(final, version, files)
            if existing is not None:
                # The same build already exists (e.g. a forced rebuild of unchanged seeds): keep
                # it, because it may be live; deleting it first would leave CURRENT dangling.
                shutil.rmtree(staging, ignore_errors=True)
                os.utime(final)
                manifest = existing
            else:
                if final.exists():  # a damaged build under the same name: move it out of the way
                    os.replace(final, self.root / f".trash-{final.name}-{uuid.uuid4().hex[:8]}")
                os.replace(staging, final)
            self._point_to(final.name)
            lexical, terms = load_lexical(final, TABLES)  # memory-mapped, as an opened index has them
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        self._prune(keep=final.name)
        return served(manifest, content.documents, table, vectors, content.sentence_vectors, content.clause_vectors,
                      lexical, terms)  # fmt: skip

    def _point_to(self, name: str) -> None:
        pointer_tmp = self.root / f".{CURRENT}.{os.getpid()}.{uuid.uuid4().hex[:8]}"
        write_synced(pointer_tmp, name.encode("utf-8"))
        os.replace(pointer_tmp, self.root / CURRENT)
        fsync_dir(self.root)  # make the rename itself durable

    def remove_leftovers(self) -> None:
        """Staging folders and pointer files a killed writer left; call with the writer lock held."""
        for leftover in [*self.root.glob(f"{STAGING_PREFIX}*"), *self.root.glob(".trash-*")]:
            shutil.rmtree(leftover, ignore_errors=True)
        for pointer in self.root.glob(f".{CURRENT}.*"):
            pointer.unlink(missing_ok=True)

    def _prune(self, keep: str) -> None:
        """Drop old builds and abandoned staging folders, keeping the newest few builds."""
        builds = sorted(_with_mtime(self.root.glob("v-*")), reverse=True)
        for _, old in [b for b in builds if b[1].name != keep][KEEP_BUILDS - 1 :]:
            shutil.rmtree(old, ignore_errors=True)
        for mtime, leftover in [*_with_mtime(self.root.glob(".build-*")), *_with_mtime(self.root.glob(".trash-*"))]:
            if leftover.name.startswith(".trash-") or time.time() - mtime > STALE_STAGING_S:
                shutil.rmtree(leftover, ignore_errors=True)
        for mtime, pointer in _with_mtime(self.root.glob(f".{CURRENT}.*")):  # a crash between write and rename
            if time.time() - mtime > STALE_STAGING_S:
                pointer.unlink(missing_ok=True)

    def read_manifest(self, folder: Path | None = None) -> Manifest:
        folder = folder or self.current_dir()
        if folder is None or not (folder / "manifest.json").exists():
            raise UnusableIndex(f"no index built yet in {self.root}/")
        try:
            return msgspec.json.decode((folder / "manifest.json").read_bytes(), type=Manifest)
        except (OSError, msgspec.DecodeError) as error:
            raise UnusableIndex(f"unreadable manifest in {folder}: {error}") from error

    def previous_build(self, expected: Fingerprint, ef_search: int | None = None) -> IndexData | None:
        """The current build as the start of an incremental one: intact, and made with everything
        ``expected`` names but its documents (seeds added, changed or removed while the service was
        down). None when anything else differs or it cannot be read: then every document is built."""
        try:
            found = self.read_manifest().fingerprint
        except UnusableIndex:
            return None
        if msgspec.structs.replace(found, documents=expected.documents) != expected:
            return None
        try:
            return self.load(found, ef_search)  # a build swapped in meanwhile fails this check: None
        except UnusableIndex:
            return None

    def load(self, expected: Fingerprint, ef_search: int | None = None) -> IndexData:
        """The current build, if it is intact and matches ``expected``; else ``UnusableIndex``."""
        folder = self.current_dir()  # resolved once: a concurrent swap cannot mix two builds
        manifest = self.read_manifest(folder)
        assert folder is not None
        if manifest.fingerprint != expected:
            raise UnusableIndex(f"index in {folder} is stale: {difference(manifest.fingerprint, expected)}")
        # The files decoded into objects are read once, checked and decoded from memory; the
        # rest (vectors, memory-mapped; BM25 and term tables) are checked by a streaming hash on
        # another core meanwhile: a 100k-chunk index opens in the time of its largest part.
        mapped = [name for name in manifest.files if name not in DECODED_FROM_MEMORY]
        with ThreadPoolExecutor(max_workers=2) as pool:
            checks = {name: pool.submit(checksum_of, folder / name) for name in mapped}
            read: dict[str, bytearray] = {}
            for name in DECODED_FROM_MEMORY:
                content = read_checked(folder / name, manifest.files.get(name, ""))
                if content is None:
                    raise damaged(folder / name)
                read[name] = content
            try:
                documents = msgspec.msgpack.decode(read.pop("documents.msgpack"), type=list[Document])
                table = msgspec.msgpack.decode(read.pop("chunks.msgpack"), type=ChunkTable)
                vectors = FaissIndex.from_bytes(read.pop("dense.faiss"), manifest.index_kind, ef_search)
            except Exception as error:  # any decoder's failure means the same thing: rebuild
                raise UnusableIndex(f"index in {folder} cannot be read: {error}") from error
            for name, check in checks.items():
                if check.result() != manifest.files[name]:
                    raise damaged(folder / name)
        try:
            # Plain arrays over the mapping: numpy's memmap subclass adds microseconds to every row read.
            sentence_vectors = np.asarray(np.load(folder / "sentences.npy", mmap_mode="r"))
            clause_vectors = np.asarray(np.load(folder / "clauses.npy", mmap_mode="r"))
            lexical, terms = load_lexical(folder, TABLES)
        except Exception as error:
            raise UnusableIndex(f"index in {folder} cannot be read: {error}") from error
        return served(manifest, documents, table, vectors, sentence_vectors, clause_vectors, lexical, terms)


def damaged(path: Path) -> UnusableIndex:
    return UnusableIndex(f"index file {path} is missing or corrupted (checksum mismatch)")


def checksum_of(path: Path) -> str | None:
    try:
        return sha256_file(path)
    except FileNotFoundError:
        return None


def served(
    manifest: Manifest,
    documents: list[Document],
    table: ChunkTable,
    vectors: NearestVectors,
    sentence_vectors: npt.NDArray[np.float32],
    clause_vectors: npt.NDArray[np.float32],
    lexical: LexicalIndex,
    terms: dict[str, TermTable],
) -> IndexData:
    """The index a build serves, the same whether it was just saved or loaded."""
    return IndexData(
        manifest=manifest,
        documents={d.doc_id: d for d in documents},
        sentences=table.sentences,
        chunks=table.chunks,
        vectors=vectors,
        sentence_vectors=sentence_vectors,
        clauses=table.clauses,
        clause_vectors=clause_vectors,
        candidates=table.candidates,
        lexical=lexical,
        saved_terms=terms,
    )


def _reusable(folder: Path, version: str, files: dict[str, str]) -> Manifest | None:
    """The manifest of an existing build with this version, if it and all its files are intact."""
    try:
        manifest = msgspec.json.decode((folder / "manifest.json").read_bytes(), type=Manifest)
        intact = all(sha256_file(folder / name) == checksum for name, checksum in files.items())
    except (OSError, msgspec.DecodeError):
        return None
    return manifest if intact and manifest.version == version and manifest.files == files else None


def _with_mtime(paths: Iterable[Path]) -> Iterator[tuple[float, Path]]:
    """``(mtime, path)``, skipping paths that vanish meanwhile (another process pruning)."""
    for path in paths:
        try:
            yield path.stat().st_mtime, path
        except FileNotFoundError:
            continue
