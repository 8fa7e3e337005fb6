"""``rag serve --workers 2`` for real: one index build, two workers, document changes reach both.

Marked ``model``: the workers load the real embedding model (~20-30 s in all).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

KEY = "serve-key-0123456789abcdef"
ROCKETS = "# Rocket notes\n\nThe Falcon rocket's first stage landed on the drone ship in April 2016.\n"

pytestmark = [pytest.mark.model]

# Generous, because CI runs this on a loaded 2-core machine: a waited-for document change re-embeds and
# re-indexes, and took more than httpx's default 5 s there. The test checks behaviour, not speed.
TIMEOUT = httpx.Timeout(120.0)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def two_workers(tmp_path: Path) -> Iterator[str]:
    port = _free_port()
    env = {
        **os.environ,
        "RAG_SECURITY__API_KEY": KEY,
        "RAG_RATE_LIMIT__ENABLED": "false",
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    log = (tmp_path / "serve.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "rag.cli", "serve", "--port", str(port), "--workers", "2"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            assert process.poll() is None, (tmp_path / "serve.log").read_text(errors="replace")[-3000:]
            assert time.monotonic() < deadline, "the server did not become ready"
            try:
                if httpx.get(f"{base}/ready", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        yield base
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        log.close()
    text = (tmp_path / "serve.log").read_text(errors="replace")
    assert text.count("building the index") <= 1  # built once, before the workers started


def test_two_workers_serve_one_index_and_follow_document_changes(two_workers: str, tmp_path: Path) -> None:
    base = two_workers
    for _ in range(40):  # new connections are spread over the workers by the kernel
        with httpx.Client(timeout=TIMEOUT) as client:
            response = client.post(f"{base}/ask", json={"question": "What does Moscow insist Ukraine must do?"})
        assert response.status_code == 200 and "server-timing" in response.headers
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(httpx.get(f"{base}/metrics", timeout=TIMEOUT).text)
        for s in family.samples
    }
    answers = sum(v for (name, _), v in samples.items() if name == "rag_answers_total")
    assert answers == 40  # summed over both workers, whichever one answered /metrics

    change = httpx.post(f"{base}/documents", params={"wait": "true"}, json={"doc_id": "rockets", "text": ROCKETS},
                        headers={"X-API-Key": KEY}, timeout=TIMEOUT)  # fmt: skip
    assert change.status_code == 201, change.text
    version = change.json()["index_version"]
    deadline = time.monotonic() + 120
    consecutive = 0
    while consecutive < 20:  # 20 fresh connections in a row all see the new build
        assert time.monotonic() < deadline, "a worker did not pick up the new build"
        with httpx.Client(timeout=TIMEOUT) as client:
            seen = client.get(f"{base}/health").json()["index_version"]
        consecutive = consecutive + 1 if seen == version else 0
        time.sleep(0.05)
    answer = httpx.post(f"{base}/ask", json={"question": "Where did the Falcon first stage land?"},
                        timeout=TIMEOUT).json()
    assert any(c["doc_id"] == "rockets" for c in answer["citations"])
    assert (tmp_path / "seeds" / "rockets.txt").read_text(encoding="utf-8") == ROCKETS
