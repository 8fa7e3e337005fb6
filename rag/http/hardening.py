"""Query parameters given once; headers every response of a route carries, whatever answered
it: ``X-Content-Type-Options: nosniff``, and an ``Allow`` on ``OPTIONS`` that names every method of the path.

Litestar 2 builds the automatic ``OPTIONS`` answer of a path when its first handler is
registered and keeps it when more handlers join the path from another module, so ``Allow``
named only the first handlers' methods (``OPTIONS /documents`` omitted ``POST``). The route
that serves a request knows all of them; this middleware asks it.
"""

from __future__ import annotations

from collections import Counter
from typing import Any
from urllib.parse import parse_qsl

from litestar.connection import ASGIConnection
from litestar.datastructures import MutableScopeHeaders
from litestar.enums import ScopeType
from litestar.exceptions import ValidationException
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware import ASGIMiddleware
from litestar.routes import HTTPRoute
from litestar.types import ASGIApp, Message, Receive, Scope, Send

NOSNIFF = ("X-Content-Type-Options", "nosniff")


def one_value_per_query_parameter(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """A guard (every route): every query parameter of the API takes one value, so a repeated one
    (``?collection=a&collection=b``) is refused, with the 400 of any request that breaks the schema,
    rather than one of its values silently used."""
    query = connection.scope.get("query_string", b"").decode("latin-1")
    repeated = [name for name, count in Counter(k for k, _ in parse_qsl(query, keep_blank_values=True)).items()
                if count > 1]  # fmt: skip
    if repeated:
        raise ValidationException(f"query parameter {repeated[0]!r} is given more than once; give it once")


def methods_of(scope: Scope) -> str | None:
    """Every method of the route that matched this request (``None`` if it cannot be told)."""
    template = scope.get("path_template")
    app: Any = scope.get("litestar_app") or scope.get("app")
    for route in getattr(app, "routes", ()):
        if isinstance(route, HTTPRoute) and route.path_format == template:
            return ", ".join(sorted(route.methods))
    return None


class ResponseHeaders(ASGIMiddleware):
    scopes = (ScopeType.HTTP,)

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableScopeHeaders.from_message(message)
                headers[NOSNIFF[0]] = NOSNIFF[1]
                if scope.get("method") == "OPTIONS" and "allow" in headers:
                    allowed = methods_of(scope)
                    if allowed:
                        headers["Allow"] = allowed
            await send(message)

        await next_app(scope, receive, send_with_headers)
