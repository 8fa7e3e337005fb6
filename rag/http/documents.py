"""Document management over HTTP: ``POST /documents`` adds or replaces, ``DELETE /documents/{id}`` removes.

Both need the API key (``opt={"access": "admin"}``, checked by ``rag.http.dependencies.key_guard``) and
update the index incrementally (``rag.engine.updates``): only the changed document is chunked and
embedded, the new build is saved atomically and swapped in by the engine's one owner
(``rag.engine.live.LiveEngine``), so the next question sees it and a restart loads it without
rebuilding. Errors are problem details, as everywhere in the API: 422 for a text or name
that would not be accepted as a seed file, 404 for an unknown document, 409 while a full
reindex or another change runs, 507/503 when the disk or the file descriptors fail.

Run these on one writer: other workers and replicas that share the index folder pick the new
build up by following ``CURRENT`` (``LiveEngine.follow``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio
import anyio.to_thread
from litestar import Request, Response, delete, post
from litestar.openapi import ResponseSpec

from rag.engine.live import LiveEngine
from rag.engine.updates import UpdateResult, resolve_name
from rag.http.dependencies import require_json
from rag.http.observability import DOCUMENT_CHANGES
from rag.http.openapi import WRITE_ERRORS, problem_spec
from rag.http.schemas import MAX_UPLOAD_BODY_BYTES, DocumentChange, DocumentUpload
from rag.http.scopes import SCOPED_WRITES, check_write, scope_of, visible
from rag.records import DEFAULT_COLLECTION


async def _run_to_the_end(change: Callable[[], UpdateResult]) -> UpdateResult:
    """A change runs in a worker thread and is never abandoned: once started it finishes (and is
    saved) even if the client goes away, so the seeds folder and the index never disagree."""
    with anyio.CancelScope(shield=True):
        result = await anyio.to_thread.run_sync(change)
    DOCUMENT_CHANGES.labels(action=result.action).inc()
    return result


@post(
    "/documents",
    status_code=200,
    before_request=require_json,
    opt={"access": "admin", SCOPED_WRITES: True},
    security=[{"apiKey": []}],
    request_max_body_size=MAX_UPLOAD_BODY_BYTES,
    responses={
        **WRITE_ERRORS,
        201: ResponseSpec(data_container=DocumentChange, description="Added: the document is new"),
        413: problem_spec("The body is larger than the upload limit"),
        415: problem_spec("The body is not JSON"),
        422: problem_spec("The text or name would not be accepted as a seed file (blank, NUL, too large, bad id)"),
    },
)
async def put_document(
    data: DocumentUpload, live: LiveEngine, request: Request[Any, Any, Any]
) -> Response[DocumentChange]:
    """Add a document, or replace the one with the same id (201 when added, 200 otherwise).

    Only this document is chunked and embedded; the others' vectors are reused. The answer
    to the next question already uses it, and a restart loads it without rebuilding.
    """
    scope = scope_of(request)
    doc_id, _ = resolve_name(data.doc_id, data.filename)
    existing = live.require().data.documents.get(doc_id)
    # A replacement keeps its collection and metadata unless the upload gives new ones.
    collection = data.collection or scope or (existing.collection if existing else DEFAULT_COLLECTION)
    check_write(scope, collection, existing)
    given = data.source is not None or data.tags is not None or data.metadata is not None
    metadata = data.all_metadata() if given or existing is None else existing.metadata
    result = await _run_to_the_end(
        lambda: live.upload(data.text, data.doc_id, data.filename, None, collection, metadata, data.title)
    )
    status = 201 if result.action == "added" else 200
    return Response(DocumentChange.of(result), status_code=status, headers={"Location": f"/documents/{result.doc_id}"})


@delete(
    "/documents/{doc_id:str}",
    status_code=200,
    opt={"access": "admin", SCOPED_WRITES: True},
    security=[{"apiKey": []}],
    responses={**WRITE_ERRORS, 404: problem_spec("No document has this id")},
)
async def delete_document(doc_id: str, live: LiveEngine, request: Request[Any, Any, Any]) -> DocumentChange:
    """Remove a document and its seed file; the others' vectors are reused."""
    scope = scope_of(request)
    if scope is not None:
        visible(scope, live.require().document(doc_id))
    return DocumentChange.of(await _run_to_the_end(lambda: live.remove(doc_id)))


ROUTES = [put_document, delete_document]
