"""Headers every response of a route carries, whatever answered it: ``X-Content-Type-Options:
nosniff``, and an ``Allow`` on ``OPTIONS`` that names every method of the path.

Litestar 2 builds the automatic ``OPTIONS`` answer of a path when its first handler is
registered and keeps it when more handlers join the path from another module, so ``Allow``
named only the first handlers' methods (``OPTIONS /documents`` omitted ``POST``). The route
that serves a request knows all of them; this middleware asks it.
"""

from __future__ import annotations

from typing import Any

from litestar.datastructures import MutableScopeHeaders
from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.routes import HTTPRoute
from litestar.types import ASGIApp, Message, Receive, Scope, Send

NOSNIFF = ("X-Content-Type-Options", "nosniff")


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
