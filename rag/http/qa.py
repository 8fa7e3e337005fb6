"""The read side of the API: ask, search, documents and spans, health and readiness.

Handlers receive the engine that serves (``engine``) or its owner (``live``) by dependency
injection (``rag.http.dependencies``); engine work runs off the event loop under the deadline.
"""

from __future__ import annotations

from typing import Annotated, Any

from anyio import CapacityLimiter
from litestar import Request, Response, get, post
from litestar.exceptions import HTTPException
from litestar.handlers import HTTPRouteHandler
from litestar.params import Parameter

from rag.config import Settings
from rag.engine.live import LiveEngine
from rag.engine.service import QAService
from rag.http.dependencies import integer_query, off_loop, require_json
from rag.http.openapi import COMMON_ERRORS, errors, problem_spec
from rag.http.schemas import (
    AskRequest,
    Health,
    SearchResponse,
    bounded_ask_request,
    combined_filter,
    parse_filters,
)
from rag.http.scopes import confine, scope_of, visible
from rag.records import Answer, Document, DocumentInfo, SpanView

# ``k`` of /search; the app's handler resolves this name to one bounded by ``retrieval.max_top_k``.
TopK = Annotated[int | None, Parameter(ge=1)]


async def ask(
    data: AskRequest,
    engine: QAService,
    settings: Settings,
    engine_slots: CapacityLimiter,
    request: Request[Any, Any, Any],
) -> Answer:
    """Answer a question from the sources, with exact cited spans, or abstain."""
    chosen = confine(scope_of(request), data.search_filter())
    return await off_loop(settings, engine_slots, engine.ask, data.question, data.top_k, chosen, data.explain)


async def search(
    engine: QAService,
    settings: Settings,
    engine_slots: CapacityLimiter,
    request: Request[Any, Any, Any],
    q: str,
    k: TopK = None,
    collection: Annotated[
        str | None, Parameter(min_length=1, max_length=128, description="Only this collection")
    ] = None,
    filters: Annotated[
        str | None, Parameter(description='A filter object as JSON, e.g. {"metadata": {"tags": "faq"}}')
    ] = None,
) -> SearchResponse:
    """Ranked passages (hybrid retrieval) with their spans and scores."""
    chosen = confine(scope_of(request), combined_filter(collection, parse_filters(filters)))
    arguments = (q, k) if chosen is None else (q, k, chosen)
    passages = await off_loop(settings, engine_slots, engine.search, *arguments)
    return SearchResponse(query=q, passages=passages)


def bounded_routes(settings: Settings) -> list[HTTPRouteHandler]:
    """``/ask`` and ``/search``, made per app: their schemas hold ``retrieval.max_top_k`` (the
    names ``AskRequest`` and ``TopK`` in their signatures resolve to the bounded types), so a
    ``top_k`` or ``k`` out of range is refused by the schema, as every other bad value is (400)."""
    limit = settings.retrieval.max_top_k
    top_k = Annotated[int | None, Parameter(ge=1, le=limit, description=f"Passages to return (at most {limit}).")]
    bounded = {"AskRequest": bounded_ask_request(limit), "TopK": top_k}
    return [
        post(
            "/ask",
            status_code=200,
            before_request=require_json,
            opt={"access": "read"},
            signature_namespace=bounded,
            responses=errors(
                {
                    413: "The body is larger than server.max_body_bytes",
                    415: "The body is not JSON",
                    422: "The question cannot be answered as asked (empty, too long, control characters)",
                }
            ),
        )(ask),
        get(
            "/search",
            opt={"access": "read"},
            before_request=integer_query("k"),
            signature_namespace=bounded,
            responses=errors(
                {422: "The query cannot be searched as given (empty, too long, control characters, bad filters)"}
            ),
        )(search),
    ]


@get("/documents", opt={"access": "read"}, responses=errors({422: "filters is not a filter object"}))
async def list_documents(
    engine: QAService,
    request: Request[Any, Any, Any],
    collection: Annotated[
        str | None, Parameter(min_length=1, max_length=128, description="Only this collection")
    ] = None,
    filters: Annotated[str | None, Parameter(description="A filter object as JSON")] = None,
) -> list[DocumentInfo]:
    """Every indexed document (or those the filter admits), without its text."""
    return engine.documents(confine(scope_of(request), combined_filter(collection, parse_filters(filters))))


@get("/documents/{doc_id:str}", opt={"access": "read"}, responses=errors({404: "No document has this id"}))
async def get_document(engine: QAService, request: Request[Any, Any, Any], doc_id: str) -> Document:
    """A document with its full raw text: the text every citation offset refers to."""
    return visible(scope_of(request), engine.document(doc_id))


@get(
    "/documents/{doc_id:str}/spans",
    opt={"access": "read"},
    before_request=integer_query("start", "end", "context"),
    responses=errors(
        {
            404: "No document has this id, or it has no such span (reversed, empty or beyond its end)",
            409: "The document has changed since the citation was made (sha256 given and different)",
        }
    ),
)
async def get_span(
    engine: QAService,
    request: Request[Any, Any, Any],
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
    current = visible(scope_of(request), engine.document(doc_id)).sha256
    if sha256 is not None and sha256 != current:
        raise HTTPException(
            status_code=409,
            detail=f"document {doc_id!r} has changed since the citation was made "
            f"(sha256 now {current}, cited {sha256})",
        )
    return engine.span(doc_id, start, end, context)


def health_of(live: LiveEngine) -> Health:
    engine = live.engine
    if engine is None:
        return Health(status="starting", ready=False, index_version=None, documents=0, chunks=0)
    manifest = engine.data.manifest
    return Health("ok", True, manifest.version, len(engine.data.documents), manifest.chunks)


@get("/health", responses=COMMON_ERRORS)
async def health(live: LiveEngine) -> Health:
    """Liveness, plus whether the index is loaded (readiness)."""
    return health_of(live)


@get("/ready", responses={**COMMON_ERRORS, 503: problem_spec("Not loaded yet")})
async def ready(live: LiveEngine) -> Response[Health]:
    """200 when the index is loaded, 503 before."""
    body = health_of(live)
    return Response(body, status_code=200 if body.ready else 503)


ROUTES = [list_documents, get_document, get_span, health, ready]


def routes(settings: Settings) -> list[HTTPRouteHandler]:
    return [*bounded_routes(settings), *ROUTES]
