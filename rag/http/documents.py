"""Document management over HTTP: ``POST /documents`` adds or replaces, ``DELETE /documents/{id}`` removes.

Both need the API key (``opt={"access": "admin"}``, checked by ``rag.http.app.require_key``) and
update the index incrementally (``rag.index.updates``): only the changed document is chunked and
embedded, the new build is saved atomically and swapped into the app state, so the next
question sees it and a restart loads it without rebuilding. Errors are problem details, as
everywhere in the API: 422 for a text or name that would not be accepted as a seed file,
404 for an unknown document, 409 while a full reindex runs.

Run these on one writer: other workers and replicas that share the index folder pick the new
build up by following ``CURRENT`` (``rag.index.updates.follow``).
"""

from __future__ import annotations

import threading
from typing import Annotated, Any, Literal

import anyio.to_thread
import msgspec
from litestar import Response, delete, post
from litestar.datastructures import State
from litestar.exceptions import HTTPException
from litestar.openapi import ResponseSpec

from rag.documents.loading import MAX_BYTES
from rag.engine.service import QAService, info
from rag.http.app import _READ_ERRORS, _problem_spec, _service, require_json
from rag.http.observability import DOCUMENT_CHANGES
from rag.index import updates
from rag.records import DocumentInfo

# JSON escapes can double a text's size (e.g. "\n"); the text itself is held to MAX_BYTES.
MAX_UPLOAD_BODY_BYTES = 2 * MAX_BYTES + 65_536
_UPDATE_LOCK = "update_lock"


class DocumentUpload(msgspec.Struct, forbid_unknown_fields=True):
    """A text or Markdown document to add, or to replace the document with the same id."""

    text: Annotated[str, msgspec.Meta(description="The document's full text (UTF-8, not blank, at most 20 MiB).")]
    doc_id: (
        Annotated[
            str,
            msgspec.Meta(
                min_length=1,
                max_length=updates.MAX_DOC_ID_CHARS,
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


def _lock(state: State) -> threading.Lock:
    lock: threading.Lock | None = state.get(_UPDATE_LOCK)
    if lock is None:  # created on first use; the event loop's single thread makes this safe
        lock = state[_UPDATE_LOCK] = threading.Lock()
    return lock


async def _run(state: State, fn: Any, *args: Any, **kwargs: Any) -> updates.UpdateResult:
    """Run an update in a worker thread and swap its engine in; one update at a time per app.

    Not abandoned at the request deadline: once started, an update finishes (and is saved)
    even if the client goes away, so the seeds folder and the index never disagree.
    """
    reindexer = state.get("reindexer")
    if reindexer is not None and reindexer.status.state == "running":
        raise HTTPException(status_code=409, detail="a reindex is running; try again when it has finished")
    lock = _lock(state)
    if not lock.acquire(blocking=False):
        raise HTTPException(status_code=409, detail="another document update is running; try again shortly")
    try:
        current: QAService = _service(state)

        def work() -> updates.UpdateResult:
            return fn(current, *args, **kwargs)  # type: ignore[no-any-return]

        with anyio.CancelScope(shield=True):
            result = await anyio.to_thread.run_sync(work)
        if result.service is not current:
            state["service"] = result.service  # one reference assignment; requests in flight keep theirs
        DOCUMENT_CHANGES.labels(action=result.action).inc()
        return result
    finally:
        lock.release()


def _change(result: updates.UpdateResult) -> DocumentChange:
    data = result.service.data
    doc = data.documents.get(result.doc_id)
    return DocumentChange(
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


_WRITE_ERRORS = {
    **_READ_ERRORS,
    409: _problem_spec("A reindex or another document update is running"),
    413: _problem_spec("The body is larger than the upload limit"),
    415: _problem_spec("The body is not JSON"),
}


@post(
    "/documents",
    status_code=200,
    before_request=require_json,
    opt={"access": "admin"},
    security=[{"apiKey": []}],
    request_max_body_size=MAX_UPLOAD_BODY_BYTES,
    responses={
        **_WRITE_ERRORS,
        201: ResponseSpec(data_container=DocumentChange, description="Added: the document is new"),
        422: _problem_spec("The text or name would not be accepted as a seed file (blank, NUL, too large, bad id)"),
    },
)
async def put_document(data: DocumentUpload, state: State) -> Response[DocumentChange]:
    """Add a document, or replace the one with the same id (201 when added, 200 otherwise).

    Only this document is chunked and embedded; the others' vectors are reused. The answer
    to the next question already uses it, and a restart loads it without rebuilding.
    """
    result = await _run(state, updates.upload, data.text, doc_id=data.doc_id, filename=data.filename)
    change = _change(result)
    status = 201 if result.action == "added" else 200
    return Response(change, status_code=status, headers={"Location": f"/documents/{result.doc_id}"})


@delete(
    "/documents/{doc_id:str}",
    status_code=200,
    opt={"access": "admin"},
    security=[{"apiKey": []}],
    responses={
        **_READ_ERRORS,
        404: _problem_spec("No document has this id"),
        409: _problem_spec("A reindex or another document update is running"),
    },
)
async def delete_document(doc_id: str, state: State) -> DocumentChange:
    """Remove a document and its seed file; the others' vectors are reused."""
    return _change(await _run(state, updates.remove, doc_id))


ROUTES = [put_document, delete_document]
