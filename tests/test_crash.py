"""A crash (kill -9) while building leaves the previous index intact and usable.

Each case has a real process (forked by tests/crash_build.py, which loads spaCy once for the
module) build a new index over changed seeds, waits until it reports that it has reached the
stage under test, and SIGKILLs it.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
from collections.abc import Iterator
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


class CrashHelper:
    """tests/crash_build.py serving builds: each request forks a process that builds to a stage."""

    def __init__(self, log: Path) -> None:
        self.log = log
        self.process = subprocess.Popen(
            [sys.executable, str(HELPER), "serve"], cwd=ROOT, env=dict(os.environ), text=True,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log.open("w"),
        )  # fmt: skip
        self.expect("READY")

    def expect(self, prefix: str, timeout: float = 60.0) -> str:
        """The next line the helper prints, which must start with ``prefix``."""
        assert self.process.stdout is not None
        ready, _, _ = select.select([self.process.stdout], [], [], timeout)
        line = self.process.stdout.readline().strip() if ready else "(nothing)"
        if not line.startswith(prefix):
            raise AssertionError(f"the helper said {line!r}, not {prefix}...: {self.log.read_text()[-2000:]}")
        return line.removeprefix(prefix).strip()

    def run_until(self, stage: str) -> int:
        """A build started with this test's environment, once it has printed ``PAUSED <stage>``
        (it is then stalled): its pid."""
        assert self.process.stdin is not None
        environment = {name: value for name, value in os.environ.items() if name.startswith("RAG_")}
        self.process.stdin.write(f"{stage}\t{json.dumps(environment)}\n")
        self.process.stdin.flush()
        pid = int(self.expect("CHILD"))
        self.expect(f"PAUSED {stage}")
        return pid

    def kill(self, pid: int) -> int:
        """SIGKILL the build; the signal that ended it."""
        os.kill(pid, signal.SIGKILL)
        return int(self.expect("DIED", timeout=30))

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=30)


@pytest.fixture(scope="module")
def helper(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CrashHelper]:
    started = CrashHelper(tmp_path_factory.mktemp("crash") / "helper.log")
    yield started
    started.close()


@pytest.mark.parametrize("stage", STAGES)
def test_kill_9_during_a_build_leaves_the_previous_index_usable(
    settings: Settings, helper: CrashHelper, stage: str
) -> None:
    seeds, root = Path(settings.paths.seeds), Path(settings.paths.index)
    before = QAService.open(settings, embedder=FakeEmbedder())
    pointer_before = (root / CURRENT).read_bytes()
    original_docs, _ = load_documents(seeds)

    # The new build would add a document, so it gets a different version.
    extra = seeds / "late-news.txt"
    extra.write_text("Late news. The ceasefire talks moved to Geneva.\n" * 50, encoding="utf-8")
    build = helper.run_until(stage)
    assert helper.kill(build) == signal.SIGKILL

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
