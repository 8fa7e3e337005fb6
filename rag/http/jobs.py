"""Writes as jobs over HTTP: ``GET /jobs/{id}`` follows one, ``DELETE /jobs/{id}`` cancels and forgets it.

``POST /documents`` (and ``DELETE /documents/{id}`` when it does not finish in time) answers
202 Accepted with ``Location: /jobs/{id}`` and the job below; the job
runs when the writes queued before it have finished (``rag.engine.jobs``). Poll it until its
``status`` is ``done`` (``change`` says what changed), ``failed`` (``error`` is the problem the
synchronous call would have answered: 413, 422, 404, 507, ...) or ``cancelled``.

``DELETE /jobs/{id}`` means "cancel it and forget it": a queued job leaves the queue; a running
one is asked to stop at its next cancellation point (the next embedding batch, before anything
is saved) and the request waits for it, up to ``CANCEL_WAIT_S``; then the record is removed and
the answer is 204, so ``GET /jobs/{id}`` is 404 afterwards. 204 always means the job's change
was not made. A job that is committing its change, committed it while the request waited, or
finished ``done`` cannot be cancelled: 409, and it is kept so its outcome can be read (to undo
the change, delete the document). A job still inside a batch after ``CANCEL_WAIT_S`` is 409 with
``Retry-After`` (it will stop there; DELETE again to forget it). A job that finished ``failed``
or ``cancelled`` changed nothing and is forgotten: 204. Jobs need the key that may write (a
collection's key sees only the jobs it submitted); the latest ``[jobs] history`` finished jobs
are kept in memory, per process.
"""

from __future__ import annotations

import logging
import uuid
from http import HTTPStatus
from typing import Any, Literal

import anyio
import msgspec
from litestar import Request, Response, delete, get
from litestar.exceptions import HTTPException

from rag.engine.jobs import COMMITTED_STAGE, Job
from rag.engine.live import LiveEngine
from rag.errors import NO_SPACE, UnknownJob, describe_os_error, environmental
from rag.http.openapi import READ_ERRORS, problem_spec
from rag.http.problems import DOMAIN_ERRORS
from rag.http.schemas import Problem
from rag.http.scopes import SCOPED_WRITES, scope_of
from rag.records import DocumentChange, ReindexStatus

log = logging.getLogger("rag.http")
POLL_S = 0.02  # how often a request that waits for its job looks at it
# How long DELETE /jobs/{id} waits for a running job to reach its next cancellation point: an
# embedding batch of [embedding] batch_size texts takes well under a second on one core.
CANCEL_WAIT_S = 5.0


class JobProgress(msgspec.Struct):
    stage: str  # chunking, embedding, indexing, saving
    done: int
    total: int


class JobView(msgspec.Struct):
    """A queued write and, once it has finished, its outcome."""

    id: str
    url: str  # where to poll it: /jobs/{id}
    kind: Literal["upload", "remove", "reindex"]
    status: Literal["queued", "running", "done", "failed", "cancelled"]
    document: str | None  # the document it adds, replaces or removes
    created_at: float
    started_at: float | None
    finished_at: float | None
    cancel_requested: bool
    progress: JobProgress | None  # the running job's latest stage
    change: DocumentChange | None  # an upload's or removal's outcome, when done
    reindex: ReindexStatus | None  # a re-index's outcome, when done
    error: Problem | None  # why it failed or was cancelled, as the synchronous call would have said


def job_url(job: Job) -> str:
    return f"/jobs/{job.id}"


def view(job: Job) -> JobView:
    progress = JobProgress(*job.stage) if job.stage is not None and job.state == "running" else None
    done = job.state == "done"
    return JobView(
        id=job.id, url=job_url(job), kind=job.kind, status=job.state, document=job.document,
        created_at=job.created_at, started_at=job.started_at, finished_at=job.finished_at,
        cancel_requested=job.cancel_requested.is_set(), progress=progress,
        change=job.result if done and isinstance(job.result, DocumentChange) else None,
        reindex=job.result if done and isinstance(job.result, ReindexStatus) else None,
        error=None if job.error is None else problem_of(job, job.error),
    )  # fmt: skip


def problem_of(job: Job, error: BaseException) -> Problem:
    """The problem detail a synchronous request would have answered with ``error``."""
    instance = job_url(job)
    for kind, convert in DOMAIN_ERRORS.items():
        if isinstance(error, kind):
            problem = convert(error)  # type: ignore[arg-type]
            return Problem("about:blank", _title(problem.status_code), problem.status_code, problem.detail, instance)
    if isinstance(error, OSError) and environmental(error):
        status = 507 if error.errno in NO_SPACE else 503
        return Problem("about:blank", _title(status), status, describe_os_error(error), instance)
    if isinstance(error, HTTPException):
        return Problem("about:blank", _title(error.status_code), error.status_code, error.detail, instance)
    error_id = uuid.uuid4().hex[:12]
    log.error("internal error %s in job %s (%s): %s (message withheld)", error_id, job.id, job.kind,
              type(error).__qualname__, exc_info=(type(error), error, error.__traceback__))  # fmt: skip
    return Problem("about:blank", "Internal Server Error", 500, f"internal error {error_id}; see the server log",
                   instance)  # fmt: skip


def _title(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


async def finished_within(job: Job, seconds: float) -> bool:
    """Whether ``job`` finished within ``seconds`` (polled: no thread is held while waiting)."""
    with anyio.move_on_after(seconds):
        while not job.finished.is_set():
            await anyio.sleep(POLL_S)
    return job.finished.is_set()


def accepted(job: Job) -> Response[JobView]:
    """202 with the job, where to poll it, and when to look again."""
    return Response(view(job), status_code=202, headers={"Location": job_url(job), "Retry-After": "1"})


def _visible_job(live: LiveEngine, job_id: str, request: Request[Any, Any, Any]) -> Job:
    job = live.jobs.get(job_id)
    scope = scope_of(request)
    if scope is not None and job.scope != scope:  # another key's job is as good as absent
        raise UnknownJob(f"no job with id {job_id!r}")
    return job


@get(
    "/jobs/{job_id:str}",
    opt={"access": "admin", SCOPED_WRITES: True},
    security=[{"apiKey": []}],
    responses={**READ_ERRORS, 404: problem_spec("No job has this id (or it left the history)")},
)
async def job_status(job_id: str, live: LiveEngine, request: Request[Any, Any, Any]) -> JobView:
    """A write's status: queued, running (with its stage), done (with the change), failed or cancelled."""
    return view(_visible_job(live, job_id, request))


@delete(
    "/jobs/{job_id:str}",
    status_code=204,
    opt={"access": "admin", SCOPED_WRITES: True},
    security=[{"apiKey": []}],
    responses={
        **READ_ERRORS,
        404: problem_spec("No job has this id (or it was forgotten, or it left the history)"),
        409: problem_spec(
            "Too late: the job is committing (or committed) its change, and is kept; or it did not reach "
            "its next cancellation point in time (see Retry-After)"
        ),
    },
)
async def cancel_job(job_id: str, live: LiveEngine, request: Request[Any, Any, Any]) -> None:
    """Cancel the job (a running one stops before it saves) and forget it: 204, then 404 to GET."""
    job = _visible_job(live, job_id, request)
    if not job.finished.is_set():
        if job.state == "running" and job.stage is not None and job.stage[0] == COMMITTED_STAGE:
            raise _too_late(job)
        live.jobs.cancel(job_id)
        if not await finished_within(job, CANCEL_WAIT_S):
            raise HTTPException(
                status_code=409, headers={"Retry-After": "1"},
                detail=f"job {job_id} was asked to stop but is still {job.state} after {CANCEL_WAIT_S:g} s; it stops "
                "at its next embedding batch, before saving anything: DELETE it again to forget it",
            )  # fmt: skip
    if job.state == "done":  # its change is made (before or while we waited): 204 would say it was not
        raise _too_late(job)
    live.jobs.forget(job)


def _too_late(job: Job) -> HTTPException:
    return HTTPException(
        status_code=409,
        detail=f"job {job.id} is too late to cancel: it has committed its change ({job.state}); it is kept, "
        f"GET {job_url(job)} for its outcome (to undo a document change, delete the document)",
    )


ROUTES = [job_status, cancel_job]
