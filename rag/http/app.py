"""The HTTP API (Litestar). ``create_app()`` builds it; the engine loads once in the lifespan.

Every error, from bad input to unknown documents, is answered as RFC 9457 problem details
(``application/problem+json``) by one app-level exception map (``EXCEPTION_HANDLERS``),
including Litestar's own 404/405/400/413 and the rate limiter's 429; a 500 means a bug and
is logged with an error id, never with the request's body or query. The status codes:

* 400: the request does not match the schema (malformed JSON, wrong types, unknown fields,
  missing or non-integer parameters, values outside the documented bounds);
* 401/403: a missing or wrong API key, or an admin endpoint while no key is configured;
* 404: unknown route or document; 405: wrong method; 409: a reindex is already running;
* 413: a body over ``server.max_body_bytes``; 415: ``/ask`` without a JSON content type;
* 422: well-formed but unanswerable as asked (empty or over-long question, control
  characters or lone surrogates, ``top_k`` above ``retrieval.max_top_k``, a reversed or
  out-of-range span);
* 429: over the rate limit (with ``Retry-After``); 503: not loaded yet, or a request that
  ran longer than ``server.request_timeout_s``.

Hardening settings live in ``[server]``, ``[rate_limit]`` and ``[security]`` (see config).
``POST /admin/reindex`` rebuilds the index in a worker thread and swaps the new engine in
atomically; requests in flight finish on the engine they started with.
"""

from __future__ import annotations

import functools
import hmac
import logging
import re
import threading
import time
import traceback
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from http import HTTPStatus
from typing import Annotated, Any, Literal, TypeVar

import anyio
import anyio.to_thread
import msgspec
from litestar import Litestar, Request, Response, get, post
from litestar._openapi.schema_generation import SchemaCreator
from litestar._openapi.schema_generation.plugins.struct import StructSchemaPlugin
from litestar.config.cors import CORSConfig
from litestar.connection import ASGIConnection
from litestar.datastructures import State
from litestar.exceptions import (
    ClientException,
    HTTPException,
    NotAuthorizedException,
    PermissionDeniedException,
    SerializationException,
    ValidationException,
)
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware.rate_limit import RateLimitConfig
from litestar.openapi import OpenAPIConfig, ResponseSpec
from litestar.openapi.spec import Components, Schema, SecurityScheme
from litestar.params import Parameter
from litestar.status_codes import HTTP_404_NOT_FOUND, HTTP_422_UNPROCESSABLE_ENTITY, HTTP_500_INTERNAL_SERVER_ERROR
from litestar.typing import FieldDefinition

from rag import __version__
from rag.config import Settings, load_settings
from rag.engine.service import BadRequest, QAService, UnknownDocument
from rag.records import Answer, Document, DocumentInfo, Passage, SpanView

log = logging.getLogger("rag.http.app")
PROBLEM = "application/problem+json"
API_KEY_HEADER = "X-API-Key"
MAX_DETAIL_CHARS = 1000  # problem details never echo more of the caller's input than this

ServiceFactory = Callable[[Settings], QAService]
Rebuilder = Callable[[QAService], QAService]  # builds a fresh engine from seeds/, given the live one
T = TypeVar("T")


# -- request and response bodies ------------------------------------------------------------


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
    """RFC 9457 problem details."""

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None


class ReindexStatus(msgspec.Struct):
    state: Literal["idle", "running", "succeeded", "failed"]
    started_at: float | None = None
    finished_at: float | None = None
    index_version: str | None = None
    documents: int | None = None
    chunks: int | None = None
    error: str | None = None


class StrictStructSchema(StructSchemaPlugin):
    """OpenAPI for msgspec structs that also says when unknown fields are refused.

    Litestar's own plugin omits ``additionalProperties: false`` for ``forbid_unknown_fields``
    structs, so the schema allowed bodies the server rejects (found by schemathesis).
    """

    def to_openapi_schema(self, field_definition: FieldDefinition, schema_creator: SchemaCreator) -> Schema:
        schema = super().to_openapi_schema(field_definition, schema_creator)
        if field_definition.type_.__struct_config__.forbid_unknown_fields:
            schema.additional_properties = False
        return schema


def _problem_spec(description: str) -> ResponseSpec:
    return ResponseSpec(data_container=Problem, media_type=PROBLEM, description=description, generate_examples=False)


_COMMON_ERRORS: dict[int, ResponseSpec] = {
    429: _problem_spec("Over the rate limit; see Retry-After"),
    500: _problem_spec("A bug; the detail names an error id to look up in the server log"),
    503: _problem_spec("The index is not loaded yet, or the request ran out of time"),
}
_AUTH_ERRORS = {
    401: _problem_spec("Missing or wrong API key (when the endpoint needs one)"),
    403: _problem_spec("The endpoint needs an API key but none is configured"),
}
_READ_ERRORS = {**_COMMON_ERRORS, **_AUTH_ERRORS, 400: _problem_spec("The request does not match the schema")}


def _errors(extra: Mapping[int, str] | None = None) -> dict[int, ResponseSpec]:
    return {**_READ_ERRORS, **{code: _problem_spec(text) for code, text in (extra or {}).items()}}


# -- the engine, deadlines and access --------------------------------------------------------


class RequestTimedOut(Exception):
    def __init__(self, seconds: float) -> None:
        super().__init__(f"the request did not finish within {seconds:g} s; try again later")


def _service(state: State) -> QAService:
    service: QAService | None = state.get("service")
    if service is None:
        raise HTTPException(status_code=503, detail="the index is not loaded yet")
    return service


def _settings(state: State) -> Settings:
    settings: Settings = state["settings"]
    return settings


async def _blocking(state: State, fn: Callable[..., T], *args: Any) -> T:
    """Run CPU-bound engine work in a worker thread, answering 503 if it overruns the deadline.

    The overrunning thread is abandoned, not killed (Python cannot), and finishes on its own;
    every request's work is bounded (``answering.max_question_chars``, ``retrieval.max_top_k``).
    """
    seconds = _settings(state).server.request_timeout_s
    with anyio.move_on_after(seconds) as scope:
        return await anyio.to_thread.run_sync(functools.partial(fn, *args), abandon_on_cancel=True)
    assert scope.cancelled_caught
    raise RequestTimedOut(seconds)


def _supplied_key(connection: ASGIConnection[Any, Any, Any, Any]) -> bytes | None:
    key = connection.headers.get(API_KEY_HEADER)
    if key is None:
        scheme, _, token = connection.headers.get("Authorization", "").partition(" ")
        key = token.strip() if scheme.lower() == "bearer" and token.strip() else None
    # ASGI headers arrive as bytes; Litestar decodes them as latin-1, so this restores the bytes.
    return None if key is None else key.encode("latin-1", errors="replace")


def require_key(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
    """Guard: handlers with ``opt={"access": "admin"}`` (and ``"read"`` ones when configured) need the key."""
    access = handler.opt.get("access")
    security = _settings(connection.app.state).security
    if access != "admin" and not (access == "read" and security.read_requires_key):
        return
    if not security.api_key:
        raise PermissionDeniedException(
            detail="this endpoint is disabled: the server has no API key configured; set security.api_key "
            "(RAG_SECURITY__API_KEY) or start the server with `rag serve --generate-key`"
        )
    supplied = _supplied_key(connection)
    challenge = {"WWW-Authenticate": f'Bearer realm="rag", {API_KEY_HEADER.lower()}="header"'}
    if supplied is None:
        raise NotAuthorizedException(
            detail=f"this endpoint needs the API key, in an {API_KEY_HEADER} or 'Authorization: Bearer' header",
            headers=challenge,
        )
    if not hmac.compare_digest(supplied, security.api_key.encode("utf-8")):
        raise NotAuthorizedException(detail="the API key is not valid", headers=challenge)


async def require_json(request: Request[Any, Any, Any]) -> None:
    """Before-request hook: the body must be JSON, and decodable, before Litestar parses it.

    Litestar's decoder lets two failures through as exceptions rather than 400s: bytes that
    are not UTF-8 (``UnicodeDecodeError``) and nesting deep enough to exhaust the recursion
    limit (``RecursionError``). Decoding once here (the body is cached, and at most
    ``server.max_body_bytes``) turns every such body into a clear 400.
    """
    media_type = request.headers.get("Content-Type", "").partition(";")[0].strip().lower()
    if not (media_type == "application/json" or re.fullmatch(r"application/[\w.+-]+\+json", media_type)):
        shown = media_type[:100] or "none"
        raise ClientException(
            status_code=415, detail=f"send the body as JSON with Content-Type: application/json (got {shown})"
        )
    body = await request.body()
    if not body.strip():
        raise ClientException(detail='the request body is empty; send a JSON object such as {"question": "..."}')
    try:
        body.decode("utf-8")  # first: msgspec >= 0.23 reports bad UTF-8 as a JSON error
        msgspec.json.decode(body)
    except msgspec.DecodeError as error:
        raise ClientException(detail=f"the request body is not valid JSON: {error}") from None
    except UnicodeDecodeError:
        raise ClientException(detail="the request body is not valid UTF-8") from None
    except RecursionError:
        raise ClientException(detail="the request body is nested too deeply") from None


# -- read endpoints --------------------------------------------------------------------------


@post(
    "/ask",
    status_code=200,
    before_request=require_json,
    opt={"access": "read"},
    responses=_errors(
        {
            413: "The body is larger than server.max_body_bytes",
            415: "The body is not JSON",
            422: "The question cannot be answered as asked (empty, too long, control characters, top_k too large)",
        }
    ),
)
async def ask(data: AskRequest, state: State) -> Answer:
    """Answer a question from the sources, with exact cited spans, or abstain."""
    return await _blocking(state, _service(state).ask, data.question, data.top_k)


@get(
    "/search",
    opt={"access": "read"},
    responses=_errors(
        {422: "The query cannot be searched as given (empty, too long, control characters, k too large)"}
    ),
)
async def search(state: State, q: str, k: Annotated[int | None, Parameter(ge=1)] = None) -> SearchResponse:
    """Ranked passages (hybrid retrieval) with their spans and scores."""
    passages = await _blocking(state, _service(state).search, q, k)
    return SearchResponse(query=q, passages=passages)


@get("/documents", opt={"access": "read"}, responses=_errors())
async def list_documents(state: State) -> list[DocumentInfo]:
    """Every indexed document, without its text."""
    return _service(state).documents()


@get("/documents/{doc_id:str}", opt={"access": "read"}, responses=_errors({404: "No document has this id"}))
async def get_document(state: State, doc_id: str) -> Document:
    """A document with its full raw text: the text every citation offset refers to."""
    return _service(state).document(doc_id)


@get(
    "/documents/{doc_id:str}/spans",
    opt={"access": "read"},
    responses=_errors(
        {
            404: "No document has this id",
            409: "The document has changed since the citation was made (sha256 given and different)",
            422: "The span is reversed, empty or beyond the document",
        }
    ),
)
async def get_span(
    state: State,
    doc_id: str,
    start: Annotated[int, Parameter(ge=0, description="First character (code point) of the span")],
    end: Annotated[int, Parameter(ge=1, description="One past the last character of the span")],
    context: Annotated[int, Parameter(ge=0, le=10_000, description="Characters shown either side")] = 200,
    sha256: Annotated[
        str | None,
        Parameter(
            pattern="^[0-9a-f]{64}$", description="The citation's doc_sha256: 409 if the document has changed since"
        ),
    ] = None,
) -> SpanView:
    """Look a citation up: the exact text at ``[start, end)`` with surrounding context."""
    service = _service(state)
    current = service.document(doc_id).sha256
    if sha256 is not None and sha256 != current:
        raise HTTPException(
            status_code=409,
            detail=f"document {doc_id!r} has changed since the citation was made "
            f"(sha256 now {current}, cited {sha256})",
        )
    return service.span(doc_id, start, end, context)


@get("/health", responses=_COMMON_ERRORS)
async def health(state: State) -> Health:
    """Liveness, plus whether the index is loaded (readiness)."""
    service: QAService | None = state.get("service")
    if service is None:
        return Health(status="starting", ready=False, index_version=None, documents=0, chunks=0)
    manifest = service.data.manifest
    return Health("ok", True, manifest.version, len(service.data.documents), manifest.chunks)


@get("/ready", responses={**_COMMON_ERRORS, 503: _problem_spec("Not loaded yet")})
async def ready(state: State) -> Response[Health]:
    """200 when the index is loaded, 503 before."""
    body = await health.fn(state)
    return Response(body, status_code=200 if body.ready else 503)


# -- admin -----------------------------------------------------------------------------------


class Reindexer:
    """Runs one rebuild at a time in a worker thread and swaps the result into the app state."""

    def __init__(self, rebuild: Rebuilder) -> None:
        self._rebuild = rebuild
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.status = ReindexStatus(state="idle")

    def start(self, state: State) -> ReindexStatus | None:
        """Start a rebuild; ``None`` if one is already running."""
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return None
            current = _service(state)
            self.status = ReindexStatus(state="running", started_at=time.time())
            self._thread = threading.Thread(target=self._run, args=(state, current), name="rag-reindex", daemon=True)
            self._thread.start()
            return self.status

    def _run(self, state: State, current: QAService) -> None:
        started = self.status.started_at
        try:
            fresh = self._rebuild(current)
        except Exception as error:
            log.error("reindex failed; the previous index keeps serving", exc_info=error)  # no request data here
            self.status = ReindexStatus("failed", started, time.time(), error=f"{type(error).__name__}: {error}")
            return
        state["service"] = fresh  # one reference assignment: atomic; in-flight requests keep the old engine
        manifest = fresh.data.manifest
        self.status = ReindexStatus(
            "succeeded", started, time.time(), manifest.version, len(fresh.data.documents), manifest.chunks
        )
        log.warning("reindexed: index %s, %d documents, %d chunks", manifest.version, len(fresh.data.documents),
                    manifest.chunks)  # fmt: skip

    def join(self, timeout: float | None = None) -> None:
        thread = self._thread
        if thread is not None:
            thread.join(timeout)


def rebuild_from_seeds(current: QAService) -> QAService:
    """The default rebuild: re-read seeds/ and rebuild with the live engine's settings and model."""
    return QAService.open(current.settings, embedder=current.embedder, force_rebuild=True)


_ADMIN_ERRORS = {**_COMMON_ERRORS, **_AUTH_ERRORS}


@post(
    "/admin/reindex",
    status_code=202,
    opt={"access": "admin"},
    security=[{"apiKey": []}],
    responses={**_ADMIN_ERRORS, 409: _problem_spec("A reindex is already running")},
)
async def start_reindex(state: State) -> ReindexStatus:
    """Rebuild the index from seeds/ in the background; poll ``GET /admin/reindex`` for the outcome."""
    reindexer: Reindexer = state["reindexer"]
    status = reindexer.start(state)
    if status is None:
        raise HTTPException(status_code=409, detail="a reindex is already running")
    return status


@get("/admin/reindex", opt={"access": "admin"}, security=[{"apiKey": []}], responses=_ADMIN_ERRORS)
async def reindex_status(state: State) -> ReindexStatus:
    """The state of the latest reindex."""
    reindexer: Reindexer = state["reindexer"]
    return reindexer.status


# -- errors ----------------------------------------------------------------------------------


def problem(
    status: int, detail: str, request: Request[Any, Any, Any] | None = None, headers: Mapping[str, str] | None = None
) -> Response[Problem]:
    if len(detail) > MAX_DETAIL_CHARS:
        detail = detail[:MAX_DETAIL_CHARS] + "…"
    instance = request.url.path[:200] if request is not None else None
    body = Problem(type="about:blank", title=_title(status), status=status, detail=detail, instance=instance)
    return Response(body, status_code=status, media_type=PROBLEM, headers=dict(headers or {}))


def _title(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _on_http_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Problem]:
    detail = exc.detail or _title(exc.status_code)
    headers = dict(exc.headers or {})
    if isinstance(exc, ValidationException) and isinstance(exc.extra, list) and exc.extra:
        detail = f"{exc.detail}: " + "; ".join(_describe(e) for e in exc.extra)
    elif isinstance(exc.__cause__, SerializationException):  # the body failed to decode
        detail = "the request body is not valid JSON: " + detail.removeprefix("JSON is malformed: ")
    elif exc.status_code == 413:
        detail = f"the request body is larger than {_settings(request.app.state).server.max_body_bytes} bytes"
    elif exc.status_code == 429:
        reset = next((v for k, v in headers.items() if k.lower() == "ratelimit-reset"), None)
        headers["Retry-After"] = reset if reset and reset.isdigit() else "1"
        detail = "too many requests from this client; try again after Retry-After seconds"
    if exc.status_code >= 500 and exc.status_code != 503:
        return _on_bug(request, exc)
    return problem(exc.status_code, detail, request, headers)


def _describe(error: Any) -> str:
    if isinstance(error, dict):
        return " ".join(str(error.get(k)) for k in ("key", "message") if error.get(k) is not None)
    return str(error)


def _on_bad_request(request: Request[Any, Any, Any], exc: BadRequest) -> Response[Problem]:
    return problem(HTTP_422_UNPROCESSABLE_ENTITY, str(exc), request)


def _on_unknown_document(request: Request[Any, Any, Any], exc: UnknownDocument) -> Response[Problem]:
    return problem(HTTP_404_NOT_FOUND, str(exc.args[0]), request)


def _on_timeout(request: Request[Any, Any, Any], exc: RequestTimedOut) -> Response[Problem]:
    log.warning("request timed out: %s %s", request.method, request.url.path[:200])
    return problem(503, str(exc), request, {"Retry-After": "5"})


def _on_bug(request: Request[Any, Any, Any], exc: Exception) -> Response[Problem]:
    error_id = uuid.uuid4().hex[:12]
    # Method, path, exception type and stack only: the body, the query string and exception
    # messages can carry the caller's text (or a key), so none of them is logged.
    stack = "".join(traceback.format_tb(exc.__traceback__))
    log.error(
        "internal error %s on %s %s: %s (message withheld)\n%s",
        error_id, request.method, request.url.path[:200], type(exc).__qualname__, stack,
    )  # fmt: skip
    return problem(HTTP_500_INTERNAL_SERVER_ERROR, f"internal error {error_id}; see the server log", request)


EXCEPTION_HANDLERS: dict[type[Exception], Callable[[Request[Any, Any, Any], Any], Response[Problem]]] = {
    HTTPException: _on_http_error,
    BadRequest: _on_bad_request,
    UnknownDocument: _on_unknown_document,
    RequestTimedOut: _on_timeout,
    Exception: _on_bug,
}


# -- the app ---------------------------------------------------------------------------------


def create_app(
    settings: Settings | None = None,
    service_factory: ServiceFactory = QAService.open,
    rebuild: Rebuilder = rebuild_from_seeds,
) -> Litestar:
    from rag.http.plugin import install as install_extensions  # imports this module: import it late

    settings = settings or load_settings()
    reindexer = Reindexer(rebuild)

    @asynccontextmanager
    async def load_index(app: Litestar) -> AsyncIterator[None]:
        app.state.service = await anyio.to_thread.run_sync(service_factory, settings)
        try:
            yield
        finally:
            await anyio.to_thread.run_sync(reindexer.join, 60.0)

    middleware = []
    if settings.rate_limit.enabled:
        limit = RateLimitConfig(
            rate_limit=(settings.rate_limit.unit, settings.rate_limit.requests),
            exclude=[r"^/health$", r"^/ready$", r"^/schema"],
        )
        middleware.append(limit.middleware)
    security = settings.security
    cors = (
        CORSConfig(
            allow_origins=list(security.cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["Content-Type", API_KEY_HEADER, "Authorization"],
            allow_credentials=security.cors_allow_credentials,
        )
        if security.cors_origins
        else None
    )
    return Litestar(
        route_handlers=[
            ask,
            search,
            list_documents,
            get_document,
            get_span,
            health,
            ready,
            start_reindex,
            reindex_status,
        ],
        lifespan=[load_index],
        state=State({"service": None, "settings": settings, "reindexer": reindexer}),
        guards=[require_key],
        middleware=middleware,
        cors_config=cors,
        request_max_body_size=settings.server.max_body_bytes,
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        on_app_init=[install_extensions],  # web UI, document updates, metrics, request ids (rag.http.plugin)
        plugins=[StrictStructSchema()],
        logging_config=None,  # log through the host's configuration (CLI, uvicorn); never reconfigure the root logger
        openapi_config=OpenAPIConfig(
            title="rag: cited question answering",
            version=__version__,
            components=Components(
                security_schemes={
                    "apiKey": SecurityScheme(type="apiKey", name=API_KEY_HEADER, security_scheme_in="header")
                }
            ),
        ),
    )
