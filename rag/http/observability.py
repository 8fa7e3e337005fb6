"""Metrics, request ids, access logs and ``Server-Timing``.

* ``/metrics`` (Prometheus text format, Litestar's Prometheus plugin): request counts and
  latency histograms per route template and status (``rag_http_*``), answers against
  abstentions (``rag_answers_total``), the query path's stages (``rag_ask_stage_seconds``),
  document changes (``rag_document_changes_total``) and the live index's size
  (``rag_index_documents``, ``rag_index_chunks``, ``rag_index_sentences``). With several
  workers, ``rag serve`` sets ``PROMETHEUS_MULTIPROC_DIR`` so every worker reports the sum.
* Every response carries ``X-Request-ID``: the caller's, if it is a plausible id (1-128 of
  ``A-Za-z0-9._:-``), else a new one. One log line per request (logger ``rag.access``) with
  the id, method, path, status and duration; never the query string, a body or a header
  value, which may carry the caller's text or key. Other log lines written while a request
  runs carry its id too (``RequestIdFilter``).
* ``/ask`` answers carry ``Server-Timing: embed;dur=…, retrieve;dur=…, answer;dur=…,
  total;dur=…`` from ``Answer.timings_ms``, which browsers' developer tools show.
"""

from __future__ import annotations

import atexit
import contextvars
import json
import logging
import os
import re
import shutil
import tempfile
import time
import uuid
from typing import Any

from litestar import Litestar, Request, Response, get
from litestar.enums import ScopeType
from litestar.plugins.prometheus import PrometheusConfig, PrometheusController
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from prometheus_client import Counter, Gauge, Histogram

from rag.engine.live import LiveEngine
from rag.records import Answer

REQUEST_ID_HEADER = "X-Request-ID"
_VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
access_log = logging.getLogger("rag.access")

# -- metrics (module level: prometheus_client's registry is process-wide) ---------------------

ANSWERS = Counter("rag_answers_total", "Questions answered from the sources, or abstained on", ["outcome"])
ASK_STAGES = Histogram(
    "rag_ask_stage_seconds",
    "Time spent in each stage of answering a question",
    ["stage"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
CLIENT_DISCONNECTS = Counter("rag_client_disconnects_total", "Requests whose client went away before sending all")
DOCUMENT_CHANGES = Counter("rag_document_changes_total", "Documents added, replaced or removed at run time", ["action"])
INDEX_DOCUMENTS = Gauge("rag_index_documents", "Documents in the live index", multiprocess_mode="livemostrecent")
INDEX_CHUNKS = Gauge("rag_index_chunks", "Chunks (passages) in the live index", multiprocess_mode="livemostrecent")
INDEX_SENTENCES = Gauge("rag_index_sentences", "Sentences in the live index", multiprocess_mode="livemostrecent")
INDEX_CREATED = Gauge(
    "rag_index_created_timestamp_seconds", "When the live index build was made", multiprocess_mode="livemostrecent"
)


def prometheus_config() -> PrometheusConfig:
    return PrometheusConfig(
        app_name="rag",
        prefix="rag_http",
        group_path=True,  # label by route template (/documents/{doc_id}), not by raw path
        exclude=[r"^/static/"],
    )


def refresh_index_gauges(live: LiveEngine) -> None:
    engine = live.engine
    if engine is None:
        return
    data = engine.data
    INDEX_DOCUMENTS.set(len(data.documents))
    INDEX_CHUNKS.set(data.manifest.chunks)
    INDEX_SENTENCES.set(data.manifest.sentences)
    INDEX_CREATED.set(data.manifest.created_at)


class MetricsController(PrometheusController):
    """``GET /metrics``; the index gauges are read from the live engine at each scrape."""

    path = "/metrics"

    @get(include_in_schema=False, opt={"access": "read"}, name="metrics")
    async def get(self, request: Request[Any, Any, Any], live: LiveEngine) -> Response[Any]:  # type: ignore[override]
        refresh_index_gauges(live)
        response: Response[Any] = await PrometheusController.get.fn(self)  # type: ignore[attr-defined]
        return response


# -- Server-Timing and the answer counter -------------------------------------------------------


def server_timing(timings_ms: dict[str, float]) -> str:
    """``Server-Timing`` from stage durations in milliseconds, in the order the stages ran."""
    parts = []
    for name, ms in timings_ms.items():
        if re.fullmatch(r"[A-Za-z0-9_-]+", name):
            parts.append(f"{name};dur={ms:.3f}")
    return ", ".join(parts)


async def after_request(response: Any) -> Any:
    """App-level hook: on a response that carries an ``Answer``, add ``Server-Timing`` and count it."""
    answer = getattr(response, "content", None)  # static files arrive as ASGI responses, without content
    if isinstance(answer, Answer):
        response.headers["Server-Timing"] = server_timing(answer.timings_ms)
        ANSWERS.labels(outcome="abstained" if answer.abstained else "answered").inc()
        for stage, ms in answer.timings_ms.items():
            ASK_STAGES.labels(stage=stage).observe(ms / 1000)
    return response


# -- request ids and the access log ---------------------------------------------------------------


def _incoming_id(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            try:
                text = value.decode("ascii")
            except UnicodeDecodeError:
                return None
            return text if _VALID_REQUEST_ID.fullmatch(text) else None
    return None


class RequestContext:
    """ASGI middleware around the whole app (unknown routes included): request id, access log."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        rid = _incoming_id(scope) or uuid.uuid4().hex
        token = request_id.set(rid)
        scope.setdefault("state", {})["request_id"] = rid  # type: ignore[typeddict-unknown-key]
        started = time.perf_counter()
        status = 500  # if the app fails before it starts a response, the server answers 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"x-request-id"]
                headers.append((b"x-request-id", rid.encode("ascii")))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            access_log.info(
                "%s %s %d %.1fms",
                scope.get("method", "-"),
                scope.get("path", "")[:200],
                status,
                (time.perf_counter() - started) * 1000,
                extra={
                    "method": scope.get("method", "-"),
                    "path": scope.get("path", "")[:200],
                    "status": status,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 3),
                },
            )
            request_id.reset(token)


def wrap_app(app: Litestar) -> None:
    """Startup hook: put ``RequestContext`` around the app's whole handler, unknown routes included
    (app-level middleware only sees matched routes)."""
    if not isinstance(app.asgi_handler, RequestContext):
        app.asgi_handler = RequestContext(app.asgi_handler)


# -- structured logs ----------------------------------------------------------------------------------


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` (the current request's, or ``None``) to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id.get()
        return True


_STANDARD_FIELDS = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request id and any ``extra`` fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": round(record.created, 3),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD_FIELDS and not key.startswith("_"):
                entry[key] = value if isinstance(value, str | int | float | bool) or value is None else str(value)
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def logging_config(fmt: str = "json", level: str = "WARNING", access: bool = True) -> dict[str, Any]:
    """A ``logging.config.dictConfig`` for ``rag serve`` (uvicorn applies it in every worker)."""
    formatter: dict[str, Any] = (
        {"()": "rag.http.observability.JsonFormatter"}
        if fmt == "json"
        else {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"}
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": "rag.http.observability.RequestIdFilter"}},
        "formatters": {"default": formatter},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": "default",
                "filters": ["request_id"],
            }
        },
        "loggers": {
            "rag": {"handlers": ["stderr"], "level": level, "propagate": False},
            "rag.access": {"level": "INFO" if access else "WARNING"},
            "uvicorn": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
            "uvicorn.error": {"level": "INFO"},
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
        },
    }


def share_metrics_between_workers() -> str:
    """Have the worker processes of one server write their metrics to a shared folder, so that
    ``/metrics``, whichever worker answers it, reports the sum (prometheus_client's multiprocess
    mode). Call before the workers start; a ``PROMETHEUS_MULTIPROC_DIR`` already set is kept."""
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if folder:
        return folder
    folder = tempfile.mkdtemp(prefix="rag-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = folder
    atexit.register(shutil.rmtree, folder, True)
    return folder
