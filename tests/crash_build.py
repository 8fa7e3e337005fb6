"""Helper for test_crash.py: build the index in a process of its own and stall at a chosen stage.

``python tests/crash_build.py serve`` loads what a build needs once (spaCy's pipeline takes
seconds), then reads requests ``STAGE<tab>ENVIRONMENT`` (the ``RAG_*`` variables as JSON) from
stdin; for each it forks a child that builds with that environment, answers ``CHILD <pid>``,
and once the child has died, ``DIED <signal>``. The child prints ``PAUSED <stage>`` and then
sleeps, so the test can ``kill -9`` it at exactly that point of ``build_index``:

* ``embed``: while embedding (nothing written yet);
* ``write``: after the first file of the new build is written;
* ``renamed``: the complete build renamed into place, ``CURRENT`` not yet switched;
* ``pointer``: the new pointer written to its temporary file, not yet renamed over ``CURRENT``.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rag.config import load_settings  # noqa: E402
from rag.documents.loading import load_documents  # noqa: E402
from rag.embedding.base import Vectors  # noqa: E402
from rag.index import store as store_module  # noqa: E402
from rag.index.build import build_index  # noqa: E402
from rag.index.store import IndexStore  # noqa: E402
from tests.fake_embedder import FakeEmbedder  # noqa: E402


def pause(stage: str) -> None:
    print(f"PAUSED {stage}", flush=True)
    while True:  # until killed
        time.sleep(1)


class SlowEmbedder(FakeEmbedder):
    """The fake embedder, slowed down, stalling in its first batch when asked to."""

    def __init__(self, stall: bool) -> None:
        self.calls = 0
        self.stall = stall

    def embed(self, texts: Sequence[str]) -> Vectors:
        self.calls += 1
        if self.stall and self.calls == 1:
            pause("embed")
        time.sleep(0.01)
        return super().embed(texts)


def main(stage: str) -> None:
    if stage == "write":
        real_write = store_module.write_synced

        def stalling_write(path: Path, data: bytes) -> None:
            real_write(path, data)
            if path.name == "documents.msgpack":  # the first file of a build, wherever it is written
                pause("write")

        store_module.write_synced = stalling_write
    elif stage == "renamed":
        store_module.IndexStore._point_to = lambda self, name: pause("renamed")  # type: ignore[method-assign]
    elif stage == "pointer":
        real_write = store_module.write_synced

        def stalling_pointer(path: Path, data: bytes) -> None:
            real_write(path, data)
            if path.name.startswith(f".{store_module.CURRENT}."):
                pause("pointer")

        store_module.write_synced = stalling_pointer
    settings = load_settings()
    documents, _ = load_documents(Path(settings.paths.seeds))
    build_index(IndexStore(Path(settings.paths.index)), settings, SlowEmbedder(stall=stage == "embed"), documents)
    print("FINISHED", flush=True)  # not reached when a stage stalls


def serve() -> None:
    from rag.text.linguistics import pipeline

    pipeline()  # loaded before forking, so that each child starts building at once
    print("READY", flush=True)
    for request in sys.stdin:
        stage, environment = request.rstrip("\n").split("\t")
        pid = os.fork()
        if pid == 0:  # the child: one build, then gone (it never returns to this loop)
            code = 1
            try:
                for name in [n for n in os.environ if n.startswith("RAG_")]:
                    del os.environ[name]
                os.environ.update(json.loads(environment))
                main(stage)
                code = 0
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        print(f"CHILD {pid}", flush=True)
        _, status = os.waitpid(pid, 0)
        print(f"DIED {os.WTERMSIG(status) if os.WIFSIGNALED(status) else -os.WEXITSTATUS(status)}", flush=True)


if __name__ == "__main__":
    serve()
