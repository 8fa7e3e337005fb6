"""``rag serve``'s HTTP server: uvicorn with read deadlines, keep-alive and a concurrency cap.

Uvicorn times out idle keep-alive connections and caps concurrent connections and tasks
(``limit_concurrency``: over it, new requests get 503), but it never times out a connection
that is still sending its request: a socket opened and left silent, headers that stop halfway,
or a body that stops after one byte stay open forever, and enough of them exhaust the file
descriptors (issue 12: ~20,000 idle sockets left every new client an empty reply).
``ReadDeadlineProtocol`` adds the two missing deadlines to uvicorn's httptools protocol:

* ``[server] header_timeout_s``: from the connection's start (or a new request's first byte)
  until its headers are complete;
* ``[server] body_timeout_s``: from the headers until the body is complete.

A connection that misses one is closed. Deadlines do not run while the app works on a request
or while the connection is idle between requests (``[server] keep_alive_s`` covers that).

A request the HTTP parser refuses (malformed, or a request line or headers beyond its limits,
e.g. a query string of ~100 KB) never reaches the app; uvicorn answers it with a plain-text
400, which ``send_400_response`` replaces with the problem details every other error has.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.supervisors import Multiprocess

from rag.config import ServerSettings

log = logging.getLogger("rag.http.server")


class ServerConfig(uvicorn.Config):
    """uvicorn's configuration plus the read deadlines; pickled whole into each worker process."""

    def __init__(self, app: Any, server: ServerSettings, **kwargs: Any) -> None:
        self.header_timeout_s = server.header_timeout_s
        self.body_timeout_s = server.body_timeout_s
        super().__init__(
            app,
            http=ReadDeadlineProtocol,
            timeout_keep_alive=max(1, round(server.keep_alive_s)),
            limit_concurrency=server.max_concurrency,
            **kwargs,
        )


class ReadDeadlineProtocol(HttpToolsProtocol):
    def __init__(self, config: uvicorn.Config, *args: Any, **kwargs: Any) -> None:
        super().__init__(config, *args, **kwargs)
        self._header_timeout = float(getattr(config, "header_timeout_s", 10.0))
        self._body_timeout = float(getattr(config, "body_timeout_s", 30.0))
        self._deadline: asyncio.TimerHandle | None = None

    def _arm(self, seconds: float, waiting_for: str) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(seconds, self._expired, waiting_for, seconds)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expired(self, waiting_for: str, seconds: float) -> None:
        self._deadline = None
        if not self.transport.is_closing():
            log.info("closed a connection that sent no complete %s within %g s", waiting_for, seconds)
            self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if not self.transport.is_closing():  # over limit_concurrency uvicorn may already be refusing it
            self._arm(self._header_timeout, "request headers")

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._deadline is None:  # a new request on a kept-alive connection
            self._arm(self._header_timeout, "request headers")

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        self._arm(self._body_timeout, "request body")

    def on_message_complete(self) -> None:
        self._disarm()
        super().on_message_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def send_400_response(self, msg: str) -> None:
        body = json.dumps({"type": "about:blank", "title": "Bad Request", "status": 400, "detail": UNPARSEABLE})
        content = [b"HTTP/1.1 400 Bad Request\r\n"]
        content += [name + b": " + value + b"\r\n" for name, value in self.server_state.default_headers]
        content += [
            b"content-type: application/problem+json\r\n",
            b"x-content-type-options: nosniff\r\n",
            b"content-length: " + str(len(body)).encode("ascii") + b"\r\n",
            b"connection: close\r\n\r\n",
            body.encode("ascii"),
        ]
        self.transport.write(b"".join(content))
        self.transport.close()


UNPARSEABLE = (
    "the request could not be read as HTTP/1.1: it is malformed, or its request line or headers are too long "
    "(a long query string, for instance); it was not passed on"
)


def run(app: Any, server: ServerSettings, host: str, port: int, workers: int, **kwargs: Any) -> None:
    """Serve ``app`` (an app, or with ``workers > 1`` an import string of a factory) until stopped."""
    config = ServerConfig(app, server, host=host, port=port, workers=workers, factory=isinstance(app, str), **kwargs)
    if workers > 1:
        Multiprocess(config, sockets=[config.bind_socket()]).run()
    else:
        uvicorn.Server(config).run()
