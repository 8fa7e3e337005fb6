"""What handlers are given and what runs before them: the engine (Litestar dependency injection),
the API-key guard, the JSON body check, and the deadline for engine work."""

from __future__ import annotations

import functools
import hmac
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import anyio
import anyio.to_thread
import msgspec
from litestar import Request
from litestar.connection import ASGIConnection
from litestar.di import Provide
from litestar.exceptions import (
    ClientException,
    NotAuthorizedException,
    PermissionDeniedException,
    ValidationException,
)
from litestar.handlers.base import BaseRouteHandler
from litestar.types import Guard

from rag.config import SecuritySettings, Settings
from rag.engine.live import LiveEngine
from rag.errors import RequestTimedOut
from rag.http.openapi import API_KEY_HEADER
from rag.http.scopes import SCOPE, SCOPED_WRITES, key_collection

log = logging.getLogger("rag.http")
T = TypeVar("T")
_INTEGER = re.compile(r"-?[0-9]+")


LIVE = "rag_live"  # the app state key of the engine's owner, for hooks that run before dependencies


def live_of(connection: ASGIConnection[Any, Any, Any, Any]) -> LiveEngine:
    live: LiveEngine = connection.app.state[LIVE]
    return live


def dependencies(live: LiveEngine) -> dict[str, Provide]:
    """``engine_slots`` (the threads engine work may use at once, ``server.engine_threads``),
    ``engine`` (the one that serves now; 503 before it is loaded), ``live`` (its owner, for
    changes and health) and ``settings``, by name, to any handler that asks for them."""
    slots = anyio.CapacityLimiter(live.settings.server.engine_threads)
    return {
        "engine_slots": Provide(lambda: slots, sync_to_thread=False),
        "engine": Provide(live.require, sync_to_thread=False),
        "live": Provide(lambda: live, sync_to_thread=False),
        "settings": Provide(lambda: live.settings, sync_to_thread=False),
    }


async def off_loop(settings: Settings, slots: anyio.CapacityLimiter, fn: Callable[..., T], *args: Any) -> T:
    """Run CPU-bound engine work in a worker thread once one of ``slots`` is free, answering 503
    if it overruns the deadline (the wait for a slot counts).

    The overrunning thread is abandoned, not killed (Python cannot), and finishes on its own;
    every request's work is bounded (``answering.max_question_chars``, ``retrieval.max_top_k``).
    """
    seconds = settings.server.request_timeout_s
    with anyio.move_on_after(seconds) as scope:
        return await anyio.to_thread.run_sync(functools.partial(fn, *args), abandon_on_cancel=True, limiter=slots)
    assert scope.cancelled_caught
    log.warning("request timed out after %g s", seconds)  # the access log line names the route
    raise RequestTimedOut(seconds)


def _supplied_key(connection: ASGIConnection[Any, Any, Any, Any]) -> bytes | None:
    key = connection.headers.get(API_KEY_HEADER)
    if key is None:
        scheme, _, token = connection.headers.get("Authorization", "").partition(" ")
        key = token.strip() if scheme.lower() == "bearer" and token.strip() else None
    # ASGI headers arrive as bytes; Litestar decodes them as latin-1, so this restores the bytes.
    return None if key is None else key.encode("latin-1", errors="replace")


def key_guard(security: SecuritySettings) -> Guard:
    """Handlers with ``opt={"access": "admin"}`` (and ``"read"`` ones when configured) need the key."""

    def require_key(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
        access = handler.opt.get("access")
        collection = key_collection(security, _supplied_key(connection)) if access in ("read", "admin") else None
        if collection is not None:  # a collection's key (rag.http.scopes)
            if access == "admin" and not handler.opt.get(SCOPED_WRITES):
                raise PermissionDeniedException(detail="a collection's key cannot use this endpoint")
            connection.scope.setdefault("state", {})[SCOPE] = collection  # type: ignore[typeddict-item]
            return
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

    return require_key


async def require_json(request: Request[Any, Any, Any]) -> None:
    """Before-request hook: the body must be JSON, and decodable, before Litestar parses it.

    Litestar's decoder lets two failures through as exceptions rather than 400s: bytes that
    are not UTF-8 (``UnicodeDecodeError``) and nesting deep enough to exhaust the recursion
    limit (``RecursionError``). Decoding once here (the body is cached, and at most the
    route's body limit) turns every such body into a clear 400.
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
    strictly_typed(request, body)


def strictly_typed(request: Request[Any, Any, Any], body: bytes) -> None:
    """The body converts to the handler's ``data`` type in msgspec's strict mode.

    Litestar converts bodies in lax mode, as it must query strings, so ``"top_k": "5"`` was the
    integer 5; a JSON body must send numbers as numbers. A number with no fraction (``3.0``) is
    an integer as JSON Schema counts them (so the OpenAPI schema admits it) and stays accepted.
    The refusal is the 400 Litestar gives any other value that does not match the schema.
    """
    data = request.route_handler.parsed_fn_signature.parameters.get("data")
    if data is None:
        return
    try:
        msgspec.convert(_integral_floats_as_ints(msgspec.json.decode(body)), type=data.annotation, strict=True)
    except msgspec.ValidationError as error:
        message, _, where = str(error).partition(" - at `$")
        key = where.rstrip("`").lstrip(".")
        found = {"key": key, "message": message, "source": "body"} if key else {"message": message}
        raise invalid(request, [found]) from None


def _integral_floats_as_ints(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {key: _integral_floats_as_ints(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_integral_floats_as_ints(item) for item in value]
    return value


def integer_query(*names: str) -> Callable[[Request[Any, Any, Any]], Awaitable[None]]:
    """Before-request hook: the query parameters ``names``, when given, are written as integers.

    Litestar's lax conversion reads ``k=1e3`` as 1000 and ``k=5.0`` as 5; an integer parameter
    takes digits only (with an optional minus sign), else the 400 of any schema mismatch.
    """

    async def check(request: Request[Any, Any, Any]) -> None:
        wrong = [
            {"key": name, "message": "Expected `int`, got `str` (digits only)", "source": "query"}
            for name in names
            for value in request.query_params.getall(name, [])
            if not _INTEGER.fullmatch(value)
        ]
        if wrong:
            raise invalid(request, wrong)

    return check


def invalid(request: Request[Any, Any, Any], errors: list[dict[str, str]]) -> ValidationException:
    """A 400 worded as Litestar words its own validation failures."""
    query = f"?{request.url.query}" if request.url.query else ""
    return ValidationException(detail=f"Validation failed for {request.method} {request.url.path}{query}", extra=errors)
