"""The HTTP API (Litestar). ``create_app()`` builds it; the engine loads once in the lifespan.

Every error, from bad input to unknown documents, is answered as RFC 9457 problem details
(``application/problem+json``) by one app-level exception map; a 500 means a bug.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any

import msgspec
from litestar import Litestar, Request, Response, get, post
from litestar.datastructures import State
from litestar.exceptions import HTTPException, ValidationException
from litestar.openapi import OpenAPIConfig
from litestar.params import Parameter
from litestar.status_codes import HTTP_404_NOT_FOUND, HTTP_422_UNPROCESSABLE_ENTITY, HTTP_500_INTERNAL_SERVER_ERROR

from rag import __version__
from rag.config import Settings, load_settings
from rag.records import Answer, Document, DocumentInfo, Passage, SpanView
from rag.service import BadRequest, QAService, UnknownDocument

log = logging.getLogger("rag.api")
PROBLEM = "application/problem+json"

ServiceFactory = Callable[[Settings], QAService]


class AskRequest(msgspec.Struct, forbid_unknown_fields=True):
    question: str
    top_k: int | None = None


class SearchResponse(msgspec.Struct):
    query: str
    passages: list[Passage]


class Health(msgspec.Struct):
    status: str
    ready: bool
    index_version: str | None
    documents: int
    chunks: int


def _service(state: State) -> QAService:
    service: QAService | None = state.get("service")
    if service is None:
        raise HTTPException(status_code=503, detail="the index is not loaded yet")
    return service


@post("/ask", sync_to_thread=True, status_code=200)
def ask(data: AskRequest, state: State) -> Answer:
    """Answer a question from the sources, with exact cited spans, or abstain."""
    return _service(state).ask(data.question, data.top_k)


@get("/search", sync_to_thread=True)
def search(state: State, q: str, k: Annotated[int | None, Parameter(ge=1)] = None) -> SearchResponse:
    """Ranked passages (hybrid retrieval) with their spans and scores."""
    return SearchResponse(query=q, passages=_service(state).search(q, k))


@get("/documents")
async def list_documents(state: State) -> list[DocumentInfo]:
    return _service(state).documents()


@get("/documents/{doc_id:str}")
async def get_document(state: State, doc_id: str) -> Document:
    return _service(state).document(doc_id)


@get("/documents/{doc_id:str}/spans")
async def get_span(
    state: State, doc_id: str, start: int, end: int, context: Annotated[int, Parameter(ge=0, le=10_000)] = 200
) -> SpanView:
    """Look a citation up: the exact text at ``[start, end)`` with surrounding context."""
    return _service(state).span(doc_id, start, end, context)


@get("/health")
async def health(state: State) -> Health:
    """Liveness, plus whether the index is loaded (readiness)."""
    service: QAService | None = state.get("service")
    if service is None:
        return Health(status="starting", ready=False, index_version=None, documents=0, chunks=0)
    manifest = service.data.manifest
    return Health("ok", True, manifest.version, len(service.data.documents), manifest.chunks)


@get("/ready")
async def ready(state: State) -> Response[Health]:
    """200 when the index is loaded, 503 before."""
    body = await health.fn(state)
    return Response(body, status_code=200 if body.ready else 503)


def problem(status: int, title: str, detail: str) -> Response[dict[str, Any]]:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    return Response(body, status_code=status, media_type=PROBLEM)


def _on_http_error(_: Request[Any, Any, State], exc: HTTPException) -> Response[dict[str, Any]]:
    detail = exc.detail
    if isinstance(exc, ValidationException) and exc.extra:
        detail = f"{exc.detail}: " + "; ".join(_describe(e) for e in exc.extra)  # type: ignore[union-attr]
    return problem(exc.status_code, _title(exc.status_code), detail)


def _describe(error: Any) -> str:
    if isinstance(error, dict):
        return " ".join(str(error.get(k)) for k in ("key", "message") if error.get(k) is not None)
    return str(error)


def _title(status: int) -> str:
    from http import HTTPStatus

    return HTTPStatus(status).phrase


def _on_bad_request(_: Request[Any, Any, State], exc: BadRequest) -> Response[dict[str, Any]]:
    return problem(HTTP_422_UNPROCESSABLE_ENTITY, "Unprocessable Content", str(exc))


def _on_unknown_document(_: Request[Any, Any, State], exc: UnknownDocument) -> Response[dict[str, Any]]:
    return problem(HTTP_404_NOT_FOUND, "Not Found", str(exc.args[0]))


def _on_bug(_: Request[Any, Any, State], exc: Exception) -> Response[dict[str, Any]]:
    log.exception("internal error", exc_info=exc)
    return problem(HTTP_500_INTERNAL_SERVER_ERROR, "Internal Server Error", "internal error; see the server log")


def create_app(settings: Settings | None = None, service_factory: ServiceFactory = QAService.open) -> Litestar:
    settings = settings or load_settings()

    @asynccontextmanager
    async def load_index(app: Litestar) -> AsyncIterator[None]:
        import anyio.to_thread

        app.state.service = await anyio.to_thread.run_sync(service_factory, settings)
        yield

    return Litestar(
        route_handlers=[ask, search, list_documents, get_document, get_span, health, ready],
        lifespan=[load_index],
        state=State({"service": None}),
        exception_handlers={
            HTTPException: _on_http_error,
            BadRequest: _on_bad_request,
            UnknownDocument: _on_unknown_document,
            Exception: _on_bug,
        },
        openapi_config=OpenAPIConfig(title="rag: cited question answering", version=__version__),
    )
