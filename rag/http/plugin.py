"""What ``rag.http.app.create_app`` adds beyond the JSON API, as one ``on_app_init`` hook.

* the web page and document pages (``rag.http.web``), left out of the OpenAPI schema;
* ``POST /documents`` and ``DELETE /documents/{id}`` (``rag.http.documents``);
* ``POST /gold``, where the document page appends gold questions (``rag.http.gold``);
* ``/metrics``, request ids, the access log and ``Server-Timing`` (``rag.http.observability``);
* following builds that other processes save into the shared index folder
  (``rag.index.updates.follow``), so every worker and replica serves a document change within
  ``FOLLOW_INTERVAL_S`` seconds without a restart.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio.to_thread
from litestar import Litestar
from litestar.config.app import AppConfig

from rag.engine.service import QAService
from rag.http import documents as manage
from rag.http import gold, observability, web
from rag.index import updates

FOLLOW_INTERVAL_S = 2.0


@asynccontextmanager
async def follow_index(app: Litestar) -> AsyncIterator[None]:
    stop = threading.Event()

    def put(service: QAService) -> None:
        app.state["service"] = service

    thread = threading.Thread(
        target=updates.follow,
        args=(lambda: app.state.get("service"), put, stop, FOLLOW_INTERVAL_S),
        name="rag-follow-index",
        daemon=True,
    )
    thread.start()
    try:
        yield
    finally:
        stop.set()
        await anyio.to_thread.run_sync(thread.join, 10.0)


def install(config: AppConfig) -> AppConfig:
    config.route_handlers = [
        *config.route_handlers,
        *web.routes(),
        *manage.ROUTES,
        *gold.ROUTES,
        observability.MetricsController,
    ]
    config.template_config = web.template_config()
    config.middleware = [observability.prometheus_config().middleware, *config.middleware]
    config.on_startup = [*config.on_startup, observability.wrap_app]
    config.lifespan = [*config.lifespan, follow_index]
    previous = config.after_request
    if previous is None:
        config.after_request = observability.after_request
    else:

        async def chained(response: Any) -> Any:
            result: Any = previous(response)
            if hasattr(result, "__await__"):
                result = await result
            return await observability.after_request(result)

        config.after_request = chained
    return config
