"""Ingestion: every ``.txt`` / ``.md`` / ``.rst`` file of the seeds folder becomes a ``Document``.

The text is decoded from bytes as strict UTF-8 and kept exactly (no newline translation,
no stripping), because every citation offset refers to it. Files that are empty, binary,
not UTF-8 or too large are skipped with a reason naming the file; the rest still index.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import msgspec

from rag.errors import DocumentError
from rag.records import Document

SUFFIXES = (".txt", ".md", ".rst")
MAX_BYTES = 20 * 1024 * 1024
_DOC_ID_UNSAFE = re.compile(r"[^a-z0-9._-]+")


class SkippedFile(msgspec.Struct, frozen=True):
    path: str
    reason: str


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def folded_name(path: Path) -> str:
    """The file name's stem, lower case, runs of other characters than ``a-z0-9._-`` to ``-``;
    empty when nothing is left (``é.txt``, ``..txt``)."""
    return _DOC_ID_UNSAFE.sub("-", path.stem.lower()).strip("-.")


def doc_id_for(path: Path) -> str:
    """A stable, URL-safe id from the file name (``document`` for a seed file whose name folds to nothing)."""
    return folded_name(path) or "document"


def title_of(text: str, fallback: str) -> str:
    for line in text.splitlines():
        line = line.strip().lstrip("\ufeff#").strip()  # a byte-order mark or a Markdown heading mark
        if line:
            return line[:200]
    return fallback


def decode_document(data: bytes, name: str, max_bytes: int | None = None) -> str:
    """Strict UTF-8 text of a seed file, or ``DocumentError`` saying what is wrong with it."""
    limit = MAX_BYTES if max_bytes is None else max_bytes
    if len(data) > limit:
        raise DocumentError(f"{name}: larger than {limit} bytes")
    if b"\x00" in data:
        raise DocumentError(f"{name}: binary content (NUL bytes)")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise DocumentError(f"{name}: not valid UTF-8 ({error.reason} at byte {error.start})") from error
    if not text.strip():
        raise DocumentError(f"{name}: empty")
    return text


def make_document(doc_id: str, text: str, path: str) -> Document:
    return Document(doc_id=doc_id, title=title_of(text, doc_id), path=path, sha256=sha256_text(text), text=text)


def read_document(path: Path, max_bytes: int | None = None) -> str:
    """The text of one seed file; its size is checked before it is read into memory."""
    limit = MAX_BYTES if max_bytes is None else max_bytes
    try:
        size = path.stat().st_size
        if size > limit:
            raise DocumentError(f"{path.name}: larger than {limit} bytes ({size} bytes)")
        with path.open("rb") as handle:
            data = handle.read(limit + 1)  # the file may have grown since stat()
    except OSError as error:
        raise DocumentError(f"{path.name}: cannot be read ({error.strerror or error})") from error
    return decode_document(data, path.name, limit)


def load_documents(folder: Path, max_bytes: int | None = None) -> tuple[list[Document], list[SkippedFile]]:
    """All documents of ``folder`` in file-name order, and the files that were skipped."""
    if not folder.is_dir():
        raise DocumentError(f"the seeds folder {folder} does not exist or is not a folder")
    documents: list[Document] = []
    skipped: list[SkippedFile] = []
    seen: dict[str, Path] = {}
    inside = folder.resolve()
    for path in sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in SUFFIXES):
        doc_id = doc_id_for(path)
        try:
            if not path.resolve().is_relative_to(inside):  # a link may not publish files from elsewhere
                raise DocumentError(f"{path.name}: a symbolic link to a file outside the seeds folder")
            if doc_id in seen:
                raise DocumentError(f"{path.name}: same document id {doc_id!r} as {seen[doc_id].name}")
            text = read_document(path, max_bytes)
        except DocumentError as error:
            skipped.append(SkippedFile(path=str(path), reason=str(error)))
            continue
        seen[doc_id] = path
        documents.append(make_document(doc_id, text, str(path)))
    return documents, skipped
