"""A crash (kill -9) while building leaves the previous index intact and usable.

Each case starts a real subprocess (tests/crash_build.py) that builds a new index over changed
seeds, waits until it reports that it has reached the stage under test, and SIGKILLs it.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rag.config import Settings
from rag.documents.loading import load_documents
from rag.engine.service import QAService
from rag.index.build import fingerprint_for
from rag.index.store import CURRENT, WRITER_LOCK, IndexStore
from tests.conftest import ROOT, FakeEmbedder

HELPER = ROOT / "tests" / "crash_build.py"
STAGES = ["embed", "write", "renamed", "pointer"]


def run_until(stage: str, timeout: float = 60.0) -> subprocess.Popen[str]:
    """Start the helper and return once it has printed ``PAUSED <stage>`` (it is then stalled)."""
    process = subprocess.Popen(
        [sys.executable, str(HELPER), stage],
        cwd=ROOT,
        env=dict(os.environ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([process.stdout], [], [], 0.5)
        if ready:
            line = process.stdout.readline()
            if line.strip() == f"PAUSED {stage}":
                return process
            if not line:
                break
    process.kill()
    _, err = process.communicate()
    raise AssertionError(f"the helper never reached stage {stage!r}: {err[-2000:]}")


@pytest.mark.parametrize("stage", STAGES)
def test_kill_9_during_a_build_leaves_the_previous_index_usable(settings: Settings, stage: str) -> None:
    seeds, root = Path(settings.paths.seeds), Path(settings.paths.index)
    before = QAService.open(settings, embedder=FakeEmbedder())
    pointer_before = (root / CURRENT).read_bytes()
    original_docs, _ = load_documents(seeds)

    # The new build would add a document, so it gets a different version.
    extra = seeds / "late-news.txt"
    extra.write_text("Late news. The ceasefire talks moved to Geneva.\n" * 50, encoding="utf-8")
    process = run_until(stage)
    process.send_signal(signal.SIGKILL)
    assert process.wait(timeout=30) == -signal.SIGKILL

    # The previous index is untouched and loads for the previous seeds.
    assert (root / CURRENT).read_bytes() == pointer_before
    data = IndexStore(root).load(fingerprint_for(settings, FakeEmbedder(), original_docs))
    assert data.manifest == before.data.manifest
    assert data.chunks == before.data.chunks and data.documents == before.data.documents
    kept = {CURRENT, WRITER_LOCK, f"v-{data.manifest.version}"}  # the lock file is no debris: it stays by design
    debris = sorted(p.name for p in root.iterdir() if p.name not in kept)
    expected_debris = {"embed": 0, "write": 1, "renamed": 1, "pointer": 2}[stage]
    assert len(debris) == expected_debris, debris  # the kill really happened mid-build

    # And serves: with the old seeds it opens without rebuilding and answers.
    extra.rename(extra.with_suffix(".bak"))
    service = QAService.open(settings, embedder=FakeEmbedder())
    assert service.rebuilt is None
    answer = service.ask("What does Moscow insist Ukraine must do?")
    assert answer.citations or answer.abstained

    # With the new seeds the next build succeeds despite the debris.
    extra.with_suffix(".bak").rename(extra)
    rebuilt = QAService.open(settings, embedder=FakeEmbedder())
    assert rebuilt.rebuilt is not None and "added late-news" in rebuilt.rebuilt
    assert "late-news" in rebuilt.data.documents
