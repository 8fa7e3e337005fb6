"""Request and response bodies of the JSON API (msgspec structs: they are the OpenAPI schema too)."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from rag.documents.loading import MAX_BYTES
from rag.engine.service import info
from rag.engine.updates import MAX_DOC_ID_CHARS, UpdateResult
from rag.records import DocumentInfo, Passage

# JSON escapes can double a text's size (e.g. "\n"); the text itself is held to MAX_BYTES.
MAX_UPLOAD_BODY_BYTES = 2 * MAX_BYTES + 65_536


class AskRequest(msgspec.Struct, forbid_unknown_fields=True):
    question: Annotated[str, msgspec.Meta(min_length=1, description="The question, in any language or script.")]
    top_k: (
        Annotated[int, msgspec.Meta(ge=1, description="Passages to return (at most retrieval.max_top_k).")] | None
    ) = None


class SearchResponse(msgspec.Struct):
    query: str
    passages: list[Passage]


class Health(msgspec.Struct):
    status: str
    ready: bool
    index_version: str | None
    documents: int
    chunks: int


class Problem(msgspec.Struct):
    """RFC 9457 problem details (documents the body ``rag.http.problems`` answers errors with)."""

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None


class DocumentUpload(msgspec.Struct, forbid_unknown_fields=True):
    """A text or Markdown document to add, or to replace the document with the same id."""

    text: Annotated[str, msgspec.Meta(description="The document's full text (UTF-8, not blank, at most 20 MiB).")]
    doc_id: (
        Annotated[
            str,
            msgspec.Meta(
                min_length=1,
                max_length=MAX_DOC_ID_CHARS,
                pattern=r"^[a-z0-9_](?:[a-z0-9._-]*[a-z0-9_])?$",
                description="The document's id; default: from filename, as for a seed file.",
            ),
        ]
        | None
    ) = None
    filename: (
        Annotated[
            str,
            msgspec.Meta(
                min_length=1,
                max_length=255,
                description="A bare file name ending in .txt or .md: its kind, and the id if doc_id is absent.",
            ),
        ]
        | None
    ) = None


class DocumentChange(msgspec.Struct):
    """What an add, replace or remove did, and the index that now serves."""

    doc_id: str
    action: Literal["added", "replaced", "removed", "unchanged"]
    document: DocumentInfo | None  # None after a removal
    previous_sha256: str | None  # the replaced or removed text's hash: citations carrying it are stale
    index_version: str
    documents: int
    chunks: int
    chunks_embedded: int
    chunks_reused: int
    elapsed_ms: float

    @classmethod
    def of(cls, result: UpdateResult) -> DocumentChange:
        data = result.service.data
        doc = data.documents.get(result.doc_id)
        return cls(
            doc_id=result.doc_id,
            action=result.action,
            document=info(doc) if doc is not None else None,
            previous_sha256=result.previous_sha256,
            index_version=data.manifest.version,
            documents=len(data.documents),
            chunks=data.manifest.chunks,
            chunks_embedded=result.chunks_embedded,
            chunks_reused=result.chunks_reused,
            elapsed_ms=result.elapsed_ms,
        )
