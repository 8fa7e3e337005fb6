"""A bounded soak: 2,000 mixed requests at concurrency 32 against a live server on loopback.

Zero errors (no 5xx, no dropped connection, every status as expected) and bounded growth of
the process's resident memory (server and client share this process). Deselect with
``-m "not soak"``.
"""

from __future__ import annotations

import gc
import statistics
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import psutil
import pytest

from rag.config import Settings
from tests.conftest import tuned

REQUESTS = 2_000
CONCURRENCY = 32
WARMUP = 200
RSS_GROWTH_LIMIT_MB = 64.0
ANYIO_WORKER_THREADS = 40  # anyio's default thread limiter: idle workers outlive the requests
DOC = "us-ukraine-russia-negotiations"
QUESTIONS = [
    "What does Moscow insist Ukraine must do?",
    "Who mediates between Kyiv and Moscow?",
    "What do European partners think of the framework?",
    "How many points does the plan have?",
    "Что требует Москва от Украины?",
    "Kyiv security guarantees 🛡️?",
]


def request_for(n: int) -> tuple[str, str, dict[str, Any], set[int]]:
    """The n-th request of the mix: method, path, arguments and the statuses it may get."""
    kind = n % 10
    if kind < 5:  # distinct questions, so no cache hides the work
        return "POST", "/ask", {"json": {"question": f"{QUESTIONS[n % len(QUESTIONS)]} ({n})"}}, {200}
    if kind < 7:
        return "GET", "/search", {"params": {"q": QUESTIONS[n % len(QUESTIONS)], "k": 1 + n % 10}}, {200}
    if kind == 7:
        return "GET", f"/documents/{DOC}/spans", {"params": {"start": n % 5000, "end": n % 5000 + 40}}, {200}
    if kind == 8:
        return "GET", "/documents" if n % 20 < 10 else "/health", {}, {200}
    bad = [  # bad input belongs in a soak too: it must stay a cheap 4xx
        ("POST", "/ask", {"content": b"{not json", "headers": {"content-type": "application/json"}}, {400}),
        ("POST", "/ask", {"json": {"question": "\x00"}}, {422}),
        ("GET", f"/documents/{DOC}/spans", {"params": {"start": 10, "end": 5}}, {404}),
        ("GET", "/documents/..%2F..%2Fetc%2Fpasswd", {}, {404}),
        ("POST", "/ask", {"json": {"question": "x" * 70_000}}, {413}),
    ]
    return bad[n // 10 % len(bad)]


def rss_mb() -> float:
    gc.collect()
    return float(psutil.Process().memory_info().rss) / 2**20


@pytest.mark.soak
def test_soak(live_server: Callable[..., str], settings: Settings) -> None:
    # The rate limiter stays on (exercised), with a budget the soak cannot reach.
    url = live_server(tuned(settings, rate_limit={"enabled": True, "unit": "minute", "requests": 1_000_000}))
    # Idle connections expire on the client before the server closes them ([server] keep_alive_s = 5):
    # at equal timeouts a request can go out on a connection the server is closing (a reset, seen once).
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY, keepalive_expiry=2.0)
    statuses: Counter[int] = Counter()
    errors: list[str] = []
    latencies: list[float] = []
    lock = threading.Lock()

    threads_at_start = threading.active_count()
    with httpx.Client(base_url=url, limits=limits, timeout=30) as http:

        def one(n: int) -> None:
            method, path, kwargs, expected = request_for(n)
            started = time.perf_counter()
            try:
                response = http.request(method, path, **kwargs)
                status, body = response.status_code, response.text
            except Exception as error:
                with lock:
                    errors.append(f"#{n} {method} {path}: {type(error).__name__}: {error}")
                return
            with lock:
                latencies.append(time.perf_counter() - started)
                statuses[status] += 1
                if status not in expected:
                    errors.append(f"#{n} {method} {path}: {status} {body[:200]}")

        with ThreadPoolExecutor(CONCURRENCY) as pool:
            list(pool.map(one, range(WARMUP)))
            rss_before = rss_mb()
            started = time.perf_counter()
            list(pool.map(one, range(WARMUP, WARMUP + REQUESTS)))
            elapsed = time.perf_counter() - started
        rss_after, threads_after = rss_mb(), threading.active_count()
        healthy = http.get("/health").json()

    soaked = latencies[WARMUP:]
    p50, p99 = statistics.median(soaked), statistics.quantiles(soaked, n=100)[98]
    print(
        f"\nsoak: {REQUESTS} requests (+{WARMUP} warm-up) at concurrency {CONCURRENCY} in {elapsed:.1f} s "
        f"({REQUESTS / elapsed:.0f} req/s), p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms; "
        f"statuses {dict(sorted(statuses.items()))}; errors {len(errors)}; "
        f"RSS {rss_before:.1f} -> {rss_after:.1f} MiB ({rss_after - rss_before:+.1f}); "
        f"threads {threads_at_start} -> {threads_after}"
    )
    assert errors == [], errors[:10]
    assert sum(statuses.values()) == REQUESTS + WARMUP
    assert healthy["ready"] is True
    assert rss_after - rss_before < RSS_GROWTH_LIMIT_MB
    # No thread leak: what remains beyond the start is at most anyio's idle worker threads.
    assert threads_after <= threads_at_start + ANYIO_WORKER_THREADS
