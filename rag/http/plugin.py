"""The one Litestar plugin that makes the app: routes, dependencies, guard, errors, hardening,
observability, and the engine's life (loaded at start, following builds other processes save).

* routes: the JSON API (``rag.http.qa``, ``rag.http.admin``, ``rag.http.documents``, and
  ``rag.http.jobs``, where queued writes are followed and cancelled), the web
  page (``rag.http.web``, left out of the OpenAPI schema), ``POST /gold``, where the document
  page appends gold questions (``rag.http.gold``), and ``/metrics``;
* dependencies: ``engine``, ``live`` and ``settings`` (``rag.http.dependencies``);
* the API-key guard, the rate limit and CORS (``[rate_limit]``, ``[security]``);
* errors: ``rag.http.problems`` (with Litestar's ``ProblemDetailsPlugin``, which ``create_app``
  adds beside this one);
* request ids, the access log, ``Server-Timing`` and metrics (``rag.http.observability``);
* ``X-Content-Type-Options: nosniff`` on every response and a complete ``Allow`` on ``OPTIONS``
  (``rag.http.hardening``);
* following builds that other processes save into the shared index folder, so every worker
  and replica serves a document change within ``FOLLOW_INTERVAL_S`` seconds without a restart.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio.to_thread
from litestar import Litestar
from litestar.config.app import AppConfig
from litestar.config.cors import CORSConfig
from litestar.middleware.rate_limit import RateLimitConfig
from litestar.plugins import InitPluginProtocol

from rag.config import Settings
from rag.engine.live import LiveEngine
from rag.http import admin, documents, gold, jobs, observability, qa, web
from rag.http.dependencies import LIVE, dependencies, key_guard
from rag.http.hardening import ResponseHeaders, one_value_per_query_parameter
from rag.http.openapi import API_KEY_HEADER, docs_assets, openapi_config
from rag.http.problems import EXCEPTION_HANDLERS

FOLLOW_INTERVAL_S = 2.0


class RagPlugin(InitPluginProtocol):
    def __init__(self, live: LiveEngine) -> None:
        self.live = live

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        settings = self.live.settings
        app_config.route_handlers = [
            *app_config.route_handlers, *qa.routes(settings), *admin.ROUTES, *documents.ROUTES, *jobs.ROUTES,
            *gold.ROUTES, *web.routes(), observability.MetricsController, docs_assets(),
        ]  # fmt: skip
        app_config.dependencies = {**app_config.dependencies, **dependencies(self.live)}
        app_config.state[LIVE] = self.live  # for hooks that run before dependencies (rag.http.documents)
        app_config.after_exception = [*app_config.after_exception, documents.release_upload_slot]
        self.live.jobs.listeners.append(documents.count_change)
        app_config.guards = [*app_config.guards, one_value_per_query_parameter, key_guard(settings.security)]
        app_config.exception_handlers = {**app_config.exception_handlers, **EXCEPTION_HANDLERS}
        app_config.lifespan = [*app_config.lifespan, self.serve_engine, self.follow_builds]
        app_config.middleware = [
            observability.prometheus_config().middleware,
            ResponseHeaders(),
            *app_config.middleware,
        ]
        if settings.rate_limit.enabled:
            app_config.middleware.append(rate_limit(settings).middleware)
        app_config.cors_config = cors(settings)
        app_config.template_config = web.template_config()
        app_config.on_startup = [*app_config.on_startup, observability.wrap_app]
        app_config.after_request = observability.after_request
        app_config.openapi_config = openapi_config(settings.answering.max_question_chars)
        return app_config

    @asynccontextmanager
    async def serve_engine(self, app: Litestar) -> AsyncIterator[None]:
        await anyio.to_thread.run_sync(self.live.load)
        try:
            yield
        finally:
            await anyio.to_thread.run_sync(self.live.join, 60.0)

    @asynccontextmanager
    async def follow_builds(self, app: Litestar) -> AsyncIterator[None]:
        stop = threading.Event()
        thread = threading.Thread(
            target=self.live.follow, args=(stop, FOLLOW_INTERVAL_S), name="rag-follow-index", daemon=True
        )
        thread.start()
        try:
            yield
        finally:
            stop.set()
            await anyio.to_thread.run_sync(thread.join, 10.0)


def rate_limit(settings: Settings) -> RateLimitConfig:
    return RateLimitConfig(
        rate_limit=(settings.rate_limit.unit, settings.rate_limit.requests),
        exclude=[r"^/health$", r"^/ready$", r"^/schema"],
    )


def cors(settings: Settings) -> CORSConfig | None:
    security = settings.security
    if not security.cors_origins:
        return None
    return CORSConfig(
        allow_origins=list(security.cors_origins),
        allow_methods=["GET", "POST"],
        allow_headers=["Content-Type", API_KEY_HEADER, "Authorization"],
        allow_credentials=security.cors_allow_credentials,
    )
