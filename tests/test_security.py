"""Access control, CORS, rate limiting, and what never reaches the logs."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from rag.config import Settings
from rag.engine.service import QAService
from rag.http import dependencies as api
from tests.conftest import fake_service_factory, tuned

KEY = "test-key-0123456789abcdef"
Client = Callable[..., TestClient[Litestar]]
READS: list[tuple[str, str, dict[str, Any]]] = [
    ("POST", "/ask", {"json": {"question": "What does Moscow insist Ukraine must do?"}}),
    ("GET", "/search", {"params": {"q": "territory"}}),
    ("GET", "/documents", {}),
    ("GET", "/documents/us-ukraine-russia-negotiations", {}),
    ("GET", "/documents/us-ukraine-russia-negotiations/spans", {"params": {"start": 0, "end": 10}}),
]
OPEN = ["/health", "/ready", "/schema/openapi.json"]


def secured(settings: Settings, **security: Any) -> Settings:
    return tuned(settings, security={"api_key": KEY, **security}, rate_limit={"enabled": False})


@pytest.mark.parametrize("method", ["POST", "GET"])
def test_admin_is_disabled_without_a_configured_key(client: TestClient[Litestar], method: str) -> None:
    response = client.request(method, "/admin/reindex", headers={"X-API-Key": "anything-at-all-123"})
    assert response.status_code == 403 and "no API key configured" in response.json()["detail"]


@pytest.mark.parametrize(
    ("headers", "status", "detail"),
    [
        ({}, 401, "needs the API key"),
        ({"X-API-Key": ""}, 401, "the API key is not valid"),
        ({"X-API-Key": "wrong"}, 401, "the API key is not valid"),
        ({"X-API-Key": KEY.upper()}, 401, "the API key is not valid"),
        ({"X-API-Key": KEY[:-1]}, 401, "the API key is not valid"),
        ({"X-API-Key": KEY + "x"}, 401, "the API key is not valid"),
        ({"Authorization": f"Basic {KEY}"}, 401, "needs the API key"),
        ({"Authorization": "Bearer"}, 401, "needs the API key"),
        ({"Authorization": "Bearer wrong"}, 401, "the API key is not valid"),
        ({"X-API-Key": KEY}, 202, ""),
        ({"Authorization": f"Bearer {KEY}"}, 202, ""),
        ({"authorization": f"bearer   {KEY}  "}, 202, ""),
    ],
)
def test_admin_needs_the_right_key(
    make_client: Client, settings: Settings, headers: dict[str, str], status: int, detail: str
) -> None:
    client = make_client(secured(settings))
    response = client.post("/admin/reindex", headers=headers)
    assert response.status_code == status, response.text
    if status == 401:
        assert detail in response.json()["detail"]
        assert response.headers["www-authenticate"].startswith('Bearer realm="rag"')
        assert KEY not in response.text


def test_keys_are_compared_in_constant_time(
    make_client: Client, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[bytes, bytes]] = []
    real = api.hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(api.hmac, "compare_digest", spy)
    client = make_client(secured(settings))
    assert client.get("/admin/reindex", headers={"X-API-Key": "nope"}).status_code == 401
    assert client.get("/admin/reindex", headers={"X-API-Key": KEY}).status_code == 200
    assert calls == [(b"nope", KEY.encode()), (KEY.encode(), KEY.encode())]


def test_a_non_ascii_key_matches_its_utf8_bytes(live_server: Callable[..., str], settings: Settings) -> None:
    # Over a real socket: the TestClient transport re-encodes header values, a server does not.
    import httpx

    key = "clé-secrète-über-0123"
    url = live_server(tuned(settings, security={"api_key": key}, rate_limit={"enabled": False}))
    with httpx.Client(base_url=url) as http:
        assert http.get("/admin/reindex", headers={"X-API-Key": key.encode("utf-8")}).status_code == 200
        assert http.get("/admin/reindex", headers={"X-API-Key": key.encode("latin-1")}).status_code == 401
        assert http.get("/admin/reindex", headers={"X-API-Key": b"\xff\xfe"}).status_code == 401


def test_reads_are_open_by_default(client: TestClient[Litestar]) -> None:
    for method, path, kwargs in READS:
        assert client.request(method, path, **kwargs).status_code == 200, path


def test_read_requires_key_closes_the_read_endpoints(make_client: Client, settings: Settings) -> None:
    client = make_client(secured(settings, read_requires_key=True))
    for method, path, kwargs in READS:
        assert client.request(method, path, **kwargs).status_code == 401, path
        assert client.request(method, path, headers={"X-API-Key": "bad"}, **kwargs).status_code == 401, path
        assert client.request(method, path, headers={"X-API-Key": KEY}, **kwargs).status_code == 200, path
    for path in OPEN:  # liveness, readiness and the schema stay open for probes and clients
        assert client.get(path).status_code == 200, path


def test_cors_is_closed_by_default(client: TestClient[Litestar]) -> None:
    preflight = client.options(
        "/ask", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}
    )
    assert "access-control-allow-origin" not in preflight.headers
    simple = client.get("/documents", headers={"Origin": "https://evil.example"})
    assert simple.status_code == 200 and "access-control-allow-origin" not in simple.headers


def test_cors_allows_only_the_configured_origins(make_client: Client, settings: Settings) -> None:
    allowed = "https://app.example"
    client = make_client(tuned(settings, security={"cors_origins": [allowed]}, rate_limit={"enabled": False}))
    preflight = client.options(
        "/ask",
        headers={
            "Origin": allowed,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "x-api-key",
        },
    )
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == allowed
    assert "x-api-key" in preflight.headers["access-control-allow-headers"].lower()
    assert client.get("/documents", headers={"Origin": allowed}).headers["access-control-allow-origin"] == allowed
    other = client.get("/documents", headers={"Origin": "https://evil.example"})
    assert other.headers.get("access-control-allow-origin") != "https://evil.example"
    refused = client.options(
        "/ask", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}
    )
    assert refused.headers.get("access-control-allow-origin") != "https://evil.example"


def test_rate_limit_answers_429_with_retry_after(make_client: Client, settings: Settings) -> None:
    client = make_client(tuned(settings, rate_limit={"enabled": True, "unit": "minute", "requests": 5}))
    statuses = [client.get("/documents").status_code for _ in range(7)]
    assert statuses == [200] * 5 + [429] * 2
    limited = client.get("/search", params={"q": "x"})
    assert limited.status_code == 429 and limited.headers["content-type"] == "application/problem+json"
    assert 0 < int(limited.headers["retry-after"]) <= 60
    assert "too many requests" in limited.json()["detail"]
    for path in OPEN:  # probes are exempt
        assert all(client.get(path).status_code == 200 for _ in range(10)), path


def test_no_secrets_questions_or_bodies_in_the_logs(
    make_client: Client, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    secret_question = "What is the SECRET-QUESTION-4711?"

    def failing_service(s: Settings) -> QAService:
        service = fake_service_factory(s)

        def broken_ask(question: str, *rest: Any) -> Any:
            raise RuntimeError(f"failed while answering {question!r}")  # a message carrying user text

        service.ask = broken_ask  # type: ignore[method-assign]
        return service

    caplog.set_level(logging.DEBUG)
    client = make_client(secured(settings, read_requires_key=True), service_factory=failing_service)
    response = client.post("/ask", json={"question": secret_question}, headers={"X-API-Key": KEY})
    assert response.status_code == 500
    problem = response.json()
    assert problem["detail"].startswith("internal error ") and "SECRET" not in response.text
    error_id = problem["detail"].split()[2].rstrip(";")
    client.get("/search", params={"q": secret_question}, headers={"Authorization": f"Bearer {KEY}"})
    client.post("/admin/reindex", headers={"X-API-Key": KEY})
    client.get("/admin/reindex", headers={"X-API-Key": "wrong-key-guess-0000"})
    client.post("/ask", content=b'{"question": "SECRET-QUESTION-4711', headers={"content-type": "application/json"})

    server_logs = "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("httpx"))
    assert error_id in server_logs and "POST /ask: RuntimeError (message withheld)" in server_logs
    for secret in ("SECRET-QUESTION-4711", KEY, "wrong-key-guess-0000"):
        assert secret not in server_logs
