"""Document management over HTTP: ``POST /documents`` adds or replaces, ``DELETE /documents/{id}`` removes.

Both need the API key (``opt={"access": "admin"}``, checked by ``rag.http.dependencies.key_guard``) and
are writes queued on the engine's one owner (``rag.engine.live.LiveEngine``), run one at a time:
only the changed document is chunked and embedded, the new build is saved atomically and
swapped in, so the next question sees it and a restart loads it without rebuilding.

``POST /documents`` answers **202 Accepted** with ``Location: /jobs/{id}`` and the job
(``rag.http.jobs``: poll it, or cancel it with ``DELETE``). With ``?wait=true`` it waits up to
``[jobs] wait_s`` and answers as before the queue existed: 201 (added) or 200 (replaced,
unchanged) with the change, or the problem the job failed with; a job still running then is
answered 202 as without ``wait``. ``DELETE /documents/{id}`` waits for its job (200 with the
change; 202 and the job if it has not finished within ``wait_s``): it has no ``?wait=false``, as
a DELETE that succeeds at once while the document stays readable would look like one that
failed (schemathesis's use-after-free check flagged exactly that).

Refused before the job is queued: 413 for a document over ``[documents] max_document_bytes``
(judged from ``Content-Length`` before the body is read, when the body could not fit), 507 when
the corpus holds ``max_documents``, 429 with ``Retry-After`` when ``[jobs] queue_size`` upload
bodies (or ``queue_bytes`` of them) are already arriving or queued, also before the body is
read. A job fails with 422 for a text or name that would not be accepted as a seed file, 404
for an unknown document, 507 when the corpus would exceed ``max_corpus_chars`` or the disk is
full, 503 when a folder is read-only or file descriptors run out.

Run these on one writer: other workers and replicas that share the index folder pick the new
build up by following ``CURRENT`` (``LiveEngine.follow``).
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, delete, post
from litestar.openapi import ResponseSpec
from litestar.params import Parameter
from litestar.types import Scope

from rag.engine.jobs import Job, Slot
from rag.engine.live import LiveEngine
from rag.engine.updates import resolve_name
from rag.errors import DocumentTooLarge
from rag.http.dependencies import live_of, require_json
from rag.http.jobs import JobView, accepted, finished_within
from rag.http.observability import DOCUMENT_CHANGES
from rag.http.openapi import WRITE_ERRORS, problem_spec
from rag.http.schemas import MAX_UPLOAD_BODY_BYTES, DocumentUpload
from rag.http.scopes import SCOPED_WRITES, check_write, scope_of, visible
from rag.records import DEFAULT_COLLECTION, DocumentChange

UPLOAD_SLOT = "rag_upload_slot"  # request state: the admission of a body not yet handed to its job


async def admit_upload(request: Request[Any, Any, Any]) -> None:
    """Before-request hook of ``POST /documents``, after the key guard and before the body is read:
    refuse a body that cannot fit (413) or that would overfill the write queue (429), then read it."""
    live = live_of(request)
    limits = live.settings.documents
    limit, announced = limits.max_upload_body_bytes, request.content_length
    if announced is not None and announced > limit:
        raise DocumentTooLarge(
            f"the request body is {announced} bytes, over the {limit} that [documents] max_document_bytes "
            f"({limits.max_document_bytes}) allows; it was not read"
        )
    slot = live.admission.admit(announced if announced is not None else limit)
    request.state[UPLOAD_SLOT] = slot  # released by release_upload_slot if the request fails before its job exists
    await require_json(request)
    size = len(await request.body())  # a body sent without Content-Length is counted as it arrives
    if size > limit:
        raise DocumentTooLarge(f"the request body is {size} bytes, over the {limit} that [documents] "
                               f"max_document_bytes ({limits.max_document_bytes}) allows")  # fmt: skip


async def release_upload_slot(error: Exception, scope: Scope) -> None:
    """After-exception hook (every route): give back an admitted body's slot when its request failed."""
    state: dict[str, Any] = scope.get("state") or {}  # type: ignore[assignment]
    slot = state.pop(UPLOAD_SLOT, None)
    if isinstance(slot, Slot):
        slot.release()


async def _answer(job: Job, wait: bool, seconds: float, created: bool) -> Response[Any]:
    """The change (201/200) when ``wait`` and the job finished in time, else 202 and the job."""
    if wait and await finished_within(job, seconds):
        change: DocumentChange = job.outcome()  # raises what the job failed with: its problem detail
        status = 201 if created and change.action == "added" else 200
        headers = {"Location": f"/documents/{change.doc_id}"} if change.action != "removed" else {}
        return Response(change, status_code=status, headers=headers)
    return accepted(job)


@post(
    "/documents",
    status_code=202,
    before_request=admit_upload,
    opt={"access": "admin", SCOPED_WRITES: True},
    security=[{"apiKey": []}],
    request_max_body_size=MAX_UPLOAD_BODY_BYTES,
    responses={
        **WRITE_ERRORS,
        202: ResponseSpec(JobView, description="Queued: poll Location (/jobs/{id}) for the outcome"),
        200: ResponseSpec(DocumentChange, description="?wait=true: replaced (or unchanged)"),
        201: ResponseSpec(DocumentChange, description="?wait=true: added, the document is new"),
        413: problem_spec("The document is larger than [documents] max_document_bytes (judged from Content-Length)"),
        415: problem_spec("The body is not JSON"),
        422: problem_spec("The text or name would not be accepted as a seed file (blank, NUL, bad id)"),
    },
)
async def put_document(
    data: DocumentUpload, live: LiveEngine, request: Request[Any, Any, Any], wait: bool = Parameter(
        query="wait", required=False, default=False,
        description="true: wait up to [jobs] wait_s and answer with the change (201/200) or the job's problem; "
        "202 and the job if it is still running then",
    ),
) -> Response[Any]:  # fmt: skip
    """Queue an add, or a replacement of the document with the same id; 202 with the job to poll.

    Only this document is chunked and embedded; the others' vectors are reused. Once the job is
    done the next question uses it, and a restart loads it without rebuilding.
    """
    scope = scope_of(request)
    doc_id, _ = resolve_name(data.doc_id, data.filename)
    existing = live.require().data.documents.get(doc_id)
    # A replacement keeps its collection and metadata unless the upload gives new ones.
    collection = data.collection or scope or (existing.collection if existing else DEFAULT_COLLECTION)
    check_write(scope, collection, existing)
    given = data.source is not None or data.tags is not None or data.metadata is not None
    metadata = data.all_metadata() if given or existing is None else existing.metadata
    slot = request.state.get(UPLOAD_SLOT)
    job = live.submit_upload(
        data.text, data.doc_id, data.filename, collection, metadata, data.title, scope=scope, slot=slot
    )
    request.state.pop(UPLOAD_SLOT, None)  # the job holds it now, until it finishes
    return await _answer(job, wait, live.settings.jobs.wait_s, created=True)


@delete(
    "/documents/{doc_id:str}",
    status_code=200,
    opt={"access": "admin", SCOPED_WRITES: True},
    security=[{"apiKey": []}],
    responses={
        **WRITE_ERRORS,
        200: ResponseSpec(DocumentChange, description="Removed"),
        202: ResponseSpec(JobView, description="Still queued or running after [jobs] wait_s: poll the job"),
        404: problem_spec("No document has this id"),
    },
)
async def delete_document(doc_id: str, live: LiveEngine, request: Request[Any, Any, Any]) -> Response[Any]:
    """Remove a document and its seed file (200 with the change); the others' vectors are reused."""
    scope = scope_of(request)
    if scope is not None:
        visible(scope, live.require().document(doc_id))
    job = live.submit_remove(doc_id, scope=scope)
    return await _answer(job, True, live.settings.jobs.wait_s, created=False)


def count_change(job: Job) -> None:
    """A job listener: count every document change that was made (``rag_document_changes_total``)."""
    if job.state == "done" and isinstance(job.result, DocumentChange):
        DOCUMENT_CHANGES.labels(action=job.result.action).inc()


ROUTES = [put_document, delete_document]
