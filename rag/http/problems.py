"""Every error answered as RFC 9457 problem details, through Litestar's ``ProblemDetailsPlugin``.

Domain errors (``rag.errors``) map to a status each; Litestar's own exceptions (404/405/400/413,
the rate limiter's 429) get a clearer detail; environmental ``OSError``s (disk full, read-only
folder, out of file descriptors) are 507 or 503 with the reason, logged with errno and path;
anything else is a bug: 500 with an error id, logged without the request's body or query. One
renderer (``CompleteProblem``) fills in what every problem carries: ``type`` about:blank, the status phrase as
``title``, the path as ``instance``, and a ``detail`` that never echoes more than
``MAX_DETAIL_CHARS`` of the caller's input.

The status codes:

* 400: the request does not match the schema (malformed JSON, wrong types, unknown fields,
  missing or non-integer parameters, values outside the documented bounds, among them
  ``top_k`` / ``k`` above ``retrieval.max_top_k``, which the schema states; a gold line's
  blank id or an answerable kind without answers; a request the HTTP parser refuses);
* 401/403: a missing or wrong API key, or an admin endpoint while no key is configured;
* 404: unknown route, document, job, or a span the document does not have (reversed, empty
  or beyond its end, in ``/spans`` or a gold line's evidence); 405: wrong method; 409: a
  reindex is already queued, a job was cancelled or is too late to cancel, a cited document
  changed, a gold line's evidence is not the document's text at its offsets;
* 413: a body over the route's limit, or a document over ``documents.max_document_bytes``;
  415: a body that is not JSON;
* 422: well-formed but unanswerable as asked (empty or over-long question, control
  characters or lone surrogates, an upload's text or file name that would not be a seed
  file, ``filters`` that are not a filter object). The schema states these rules too
  (``rag.http.openapi``), so only a request outside it gets a 422: the engine's checks, with
  their plain messages, are what refuse;
* 429: over the rate limit, or the write queue full (both with ``Retry-After``); 503: not
  loaded yet, a request that ran longer than ``server.request_timeout_s``, or a read-only
  folder or no file descriptors;
  507: no space left for a new build, or the corpus at ``[documents]`` max_documents / max_corpus_chars.
"""

from __future__ import annotations

import logging
import traceback
import uuid
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException, SerializationException, ValidationException
from litestar.exceptions.http_exceptions import RequestEntityTooLarge
from litestar.handlers import HTTPRouteHandler
from litestar.plugins.problem_details import ProblemDetailsConfig, ProblemDetailsException, ProblemDetailsPlugin
from litestar.types import ExceptionHandlersMap

from rag.engine.jobs import RETRY_AFTER_S
from rag.errors import (
    NO_SPACE,
    BadRequest,
    CorpusFull,
    DocumentTooLarge,
    JobCancelled,
    NotReady,
    RequestTimedOut,
    UnknownDocument,
    UnknownJob,
    UnknownSpan,
    UpdateConflict,
    WritesBusy,
    describe_os_error,
    environmental,
)
from rag.http.observability import CLIENT_DISCONNECTS

log = logging.getLogger("rag.http")
CLIENT_GONE = "client disconnected prematurely"  # Litestar's detail when the body stops arriving
MAX_DETAIL_CHARS = 1000  # problem details never echo more of the caller's input than this


class CompleteProblem(ProblemDetailsException):
    """A problem that fills in what every problem carries when it is rendered, whichever handler
    renders it (the plugin's own, for the domain errors it maps, or ours)."""

    def to_response(self, request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
        detail = self.detail or _title(self.status_code)
        handler = request.scope.get("route_handler")
        if detail == RequestEntityTooLarge.detail and isinstance(handler, HTTPRouteHandler):  # the route's limit
            detail = f"the request body is larger than {handler.resolve_request_max_body_size()} bytes"
        if len(detail) > MAX_DETAIL_CHARS:
            detail = detail[:MAX_DETAIL_CHARS] + "…"
        self.detail, self.type_, self.title = detail, "about:blank", _title(self.status_code)
        self.instance = request.url.path[:200]
        self.headers = {**(self.headers or {}), "X-Content-Type-Options": "nosniff"}
        return super().to_response(request)


def _status(status: int, headers: dict[str, str] | None = None) -> Callable[[Exception], ProblemDetailsException]:
    def convert(exc: Exception) -> ProblemDetailsException:
        return CompleteProblem(status_code=status, detail=str(exc.args[0]) if exc.args else "", headers=headers)

    return convert


DOMAIN_ERRORS: dict[type[Exception], Callable[[Exception], ProblemDetailsException]] = {
    BadRequest: _status(422),
    UnknownDocument: _status(404),
    UnknownJob: _status(404),
    UnknownSpan: _status(404),
    UpdateConflict: _status(409),
    JobCancelled: _status(409),
    DocumentTooLarge: _status(413),
    CorpusFull: _status(507),
    # Too many writes arriving for the queue: slow down and retry (429), not a failure of the server (5xx).
    WritesBusy: _status(429, {"Retry-After": str(RETRY_AFTER_S)}),
    NotReady: _status(503, {"Retry-After": "5"}),
    RequestTimedOut: _status(503, {"Retry-After": "5"}),
}


def on_http_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    """Litestar's own errors, with a detail that says what to fix."""
    if exc.detail == CLIENT_GONE:  # not a server error: nobody is left to read the answer
        CLIENT_DISCONNECTS.inc()
        gone = "the client disconnected before its request was read"
        log.info("%s %s: %s", request.method, request.url.path[:200], gone)
        return CompleteProblem(status_code=499, detail=gone).to_response(request)
    if exc.status_code >= 500 and exc.status_code != 503:
        return on_bug(request, exc)
    detail = exc.detail or _title(exc.status_code)
    headers = dict(exc.headers or {})
    if isinstance(exc, ValidationException) and isinstance(exc.extra, list) and exc.extra:
        detail = f"{exc.detail}: " + "; ".join(_describe(e) for e in exc.extra)
    elif isinstance(exc.__cause__, SerializationException):  # the body failed to decode
        detail = "the request body is not valid JSON: " + detail.removeprefix("JSON is malformed: ")
    elif exc.status_code == 429:
        reset = next((v for k, v in headers.items() if k.lower() == "ratelimit-reset"), None)
        headers["Retry-After"] = reset if reset and reset.isdigit() else "1"
        detail = "too many requests from this client; try again after Retry-After seconds"
    return CompleteProblem(status_code=exc.status_code, detail=detail, headers=headers).to_response(request)


def on_os_error(request: Request[Any, Any, Any], exc: OSError) -> Response[Any]:
    """The machine failed, not the request: 507 (no space) or 503, the reason in the detail, and
    errno and path in the log (paths stay out of responses)."""
    if not environmental(exc):
        return on_bug(request, exc)
    status = 507 if exc.errno in NO_SPACE else 503
    log.error(
        "%s %s failed: errno %s (%s) on %s", request.method, request.url.path[:200], exc.errno, exc.strerror,
        exc.filename2 if exc.filename2 is not None else exc.filename,
    )  # fmt: skip
    headers = {} if status == 507 else {"Retry-After": "30"}
    return CompleteProblem(status_code=status, detail=describe_os_error(exc), headers=headers).to_response(request)


def on_bug(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    error_id = uuid.uuid4().hex[:12]
    # Method, path, exception type and stack only: the body, the query string and exception
    # messages can carry the caller's text (or a key), so none of them is logged.
    stack = "".join(traceback.format_tb(exc.__traceback__))
    log.error(
        "internal error %s on %s %s: %s (message withheld)\n%s",
        error_id, request.method, request.url.path[:200], type(exc).__qualname__, stack,
    )  # fmt: skip
    detail = f"internal error {error_id}; see the server log"
    return CompleteProblem(status_code=500, detail=detail).to_response(request)


def _title(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _describe(error: Any) -> str:
    if isinstance(error, dict):
        return " ".join(str(error.get(k)) for k in ("key", "message") if error.get(k) is not None)
    return str(error)


def problem_details() -> ProblemDetailsPlugin:
    return ProblemDetailsPlugin(ProblemDetailsConfig(exception_to_problem_detail_map=DOMAIN_ERRORS))  # type: ignore[arg-type]


# Handlers the plugin has no hook for: they need the request (to log it, or to tell a bug).
EXCEPTION_HANDLERS: ExceptionHandlersMap = {
    HTTPException: on_http_error,
    OSError: on_os_error,
    Exception: on_bug,
}
