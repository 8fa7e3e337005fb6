"""Disk full, read-only folders, no file descriptors: 507 or 503 with the reason, errno and path
in the log, and the index that was serving keeps serving (issue 12, item 3)."""

from __future__ import annotations

import errno
import logging
import os
from collections.abc import Callable
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from rag.config import Settings
from rag.index.store import IndexStore
from tests.conftest import tuned

KEY = "environment-key-0123456789"
AUTH = {"X-API-Key": KEY}
QUESTION = "What does Moscow insist Ukraine must do?"


@pytest.mark.parametrize(
    ("code", "status", "reason"),
    [
        (errno.ENOSPC, 507, "no space left on the device"),
        (errno.EDQUOT, 507, "disk quota"),
        (errno.EROFS, 503, "read-only file system"),
        (errno.EMFILE, 503, "run out of file descriptors"),
        (errno.EACCES, 503, "may not write"),
    ],
)
def test_a_failing_disk_is_not_a_500(
    make_client: Callable[..., TestClient[Litestar]],
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    code: int,
    status: int,
    reason: str,
) -> None:
    client = make_client(tuned(settings, security={"api_key": KEY}, rate_limit={"enabled": False}))
    before = client.get("/health").json()
    answer = client.post("/ask", json={"question": QUESTION}).json()
    failing = os.path.join(settings.paths.index, "staging-0123")

    def broken_save(*args: Any, **kwargs: Any) -> None:
        raise OSError(code, os.strerror(code), failing)

    monkeypatch.setattr(IndexStore, "save", broken_save)
    caplog.set_level(logging.ERROR)
    body = {"doc_id": "rockets", "text": "The rocket landed."}
    response = client.post("/documents", params={"wait": "true"}, json=body, headers=AUTH)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert reason in problem["detail"] and "keeps serving" in problem["detail"]
    assert settings.paths.index not in response.text  # server paths never go into responses
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert f"errno {code}" in logged and failing in logged
    assert "internal error" not in logged
    assert client.get("/health").json() == before  # the old index keeps serving
    assert client.post("/ask", json={"question": QUESTION}).json()["answer"] == answer["answer"]
    assert client.get("/documents/rockets").status_code == 404


def test_other_os_errors_are_still_bugs(
    make_client: Callable[..., TestClient[Litestar]], settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = make_client(tuned(settings, security={"api_key": KEY}, rate_limit={"enabled": False}))

    def broken_save(*args: Any, **kwargs: Any) -> None:
        raise FileNotFoundError(errno.ENOENT, "No such file or directory", "/secret/place")

    monkeypatch.setattr(IndexStore, "save", broken_save)
    body = {"doc_id": "rockets", "text": "The rocket landed."}
    response = client.post("/documents", params={"wait": "true"}, json=body, headers=AUTH)
    assert response.status_code == 500 and "/secret/place" not in response.text
