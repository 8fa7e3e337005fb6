"""The one owner of the engine that serves: every change goes through ``LiveEngine``.

Readers take ``engine``, a plain attribute read, so a request finishes on the engine it started
with. Writers (a document upload or removal, a full re-index, a build another process saved)
take one lock per process and, when they write files, the index folder's lock file
(``IndexStore.writer_lock``) shared by every process. Each builds its new engine off to the
side, starting from the engine that serves once it holds the lock, and swaps it in with one
assignment; so no change is ever built on a state that another change has since replaced. This
is what keeps a re-index from dropping an upload acknowledged while it ran.

Uploads and removals never queue: while another change runs, or a re-index runs or waits, they
are refused with ``UpdateConflict`` (409) and nothing is written. A re-index waits for a running
upload, then reads the seeds folder with the upload in it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

from rag.config import Settings
from rag.engine import updates
from rag.engine.service import QAService
from rag.errors import NotReady, UnusableIndex, UpdateConflict
from rag.index.build import Progress
from rag.index.store import IndexStore
from rag.records import DEFAULT_COLLECTION, MetadataValue, ReindexStatus

log = logging.getLogger("rag.engine.live")

EngineFactory = Callable[[Settings], QAService]
Rebuilder = Callable[[QAService], QAService]  # builds a fresh engine from seeds/, given the live one


def rebuild_from_seeds(current: QAService) -> QAService:
    """The default re-index: re-read seeds/ and rebuild with the live engine's settings and model."""
    return QAService.open(current.settings, embedder=current.embedder, force_rebuild=True)


class LiveEngine:
    def __init__(
        self, settings: Settings, open_engine: EngineFactory = QAService.open, rebuild: Rebuilder = rebuild_from_seeds
    ) -> None:
        self.settings = settings
        self.engine: QAService | None = None  # replaced only by one assignment, under ``_writer``
        self.reindex_status = ReindexStatus(state="idle")
        self._open = open_engine
        self._rebuild = rebuild
        self._writer = threading.Lock()  # one change at a time in this process
        self._bookkeeping = threading.Lock()  # the re-index state and the writer check, together
        self._reindex: threading.Thread | None = None

    @classmethod
    def serving(cls, engine: QAService) -> LiveEngine:
        """An owner for an engine already open (the CLI's)."""
        live = cls(engine.settings)
        live.engine = engine
        return live

    def load(self) -> QAService:
        with self._writer:
            self.engine = self._open(self.settings)
            return self.engine

    def require(self) -> QAService:
        engine = self.engine
        if engine is None:
            raise NotReady("the index is not loaded yet")
        return engine

    # -- document changes ------------------------------------------------------------------

    def upload(
        self,
        text: str,
        doc_id: str | None = None,
        filename: str | None = None,
        progress: Progress | None = None,
        collection: str = DEFAULT_COLLECTION,
        metadata: dict[str, MetadataValue] | None = None,
        title: str | None = None,
    ) -> updates.UpdateResult:
        """Add or replace a document (validated as a seed file would be) and serve the result."""
        return self._change(
            lambda engine: updates.upload(engine, text, doc_id, filename, progress, collection, metadata, title)
        )

    def remove(self, doc_id: str, progress: Progress | None = None) -> updates.UpdateResult:
        return self._change(lambda engine: updates.remove(engine, doc_id, progress))

    def _change(self, change: Callable[[QAService], updates.UpdateResult]) -> updates.UpdateResult:
        with self._bookkeeping:
            if self.reindex_status.state == "running":
                raise UpdateConflict("a reindex is running; try again when it has finished")
            if not self._writer.acquire(blocking=False):
                raise UpdateConflict("another document update is running; try again shortly")
        try:
            with IndexStore(Path(self.settings.paths.index)).writer_lock():
                result = change(self.require())
            self.engine = result.service  # the swap; requests in flight keep the engine they hold
            return result
        finally:
            self._writer.release()

    # -- full re-index -----------------------------------------------------------------------

    def start_reindex(self) -> ReindexStatus | None:
        """Start a rebuild from seeds/ in a worker thread; ``None`` if one is already running."""
        with self._bookkeeping:
            if self.reindex_status.state == "running":
                return None
            self.require()
            self.reindex_status = ReindexStatus(state="running", started_at=time.time())
            self._reindex = threading.Thread(target=self._run_reindex, name="rag-reindex", daemon=True)
            self._reindex.start()
            return self.reindex_status

    def _run_reindex(self) -> None:
        started = self.reindex_status.started_at
        try:
            with self._writer:  # waits for a running upload: its seed file is then in the folder
                fresh = self._rebuild(self.require())
                self.engine = fresh
        except Exception as error:
            log.error("reindex failed; the previous index keeps serving", exc_info=error)  # no request data here
            status = ReindexStatus("failed", started, time.time(), error=f"{type(error).__name__}: {error}")
        else:
            manifest = fresh.data.manifest
            status = ReindexStatus(
                "succeeded", started, time.time(), manifest.version, len(fresh.data.documents), manifest.chunks
            )
            log.info("reindexed: index %s, %d documents, %d chunks", manifest.version, len(fresh.data.documents),
                        manifest.chunks)  # fmt: skip
        with self._bookkeeping:
            self.reindex_status = status

    def join(self, timeout: float | None = None) -> None:
        thread = self._reindex
        if thread is not None:
            thread.join(timeout)

    # -- builds saved by other processes -------------------------------------------------------

    def adopt_newer_build(self) -> bool:
        """Serve the build another process saved, if ``CURRENT`` names one; skipped while a change
        of ours runs (it builds on that newer build itself)."""
        if not self._writer.acquire(blocking=False):
            return False
        try:
            engine = self.engine
            fresh = None if engine is None else updates.newer_build(engine)
            if fresh is None:
                return False
            self.engine = fresh
            log.info("loaded index %s saved by another process", fresh.data.manifest.version)
            return True
        finally:
            self._writer.release()

    def follow(self, stop: threading.Event, interval_s: float) -> None:
        """Poll ``CURRENT`` every ``interval_s`` until ``stop`` is set (a thread's target).

        With the PostgreSQL store a change is announced (``NOTIFY``) when it commits, so the wait
        ends then; the interval remains as a fallback should a notification be lost.
        """
        if self.settings.store.backend == "postgres":
            from rag.index.postgres.backend import ChangeListener  # needs the optional drivers

            with ChangeListener(self.settings.store.dsn) as listener:
                self._follow(lambda: listener.wait(stop, interval_s))
            return
        self._follow(lambda: stop.wait(interval_s))

    def _follow(self, wait: Callable[[], bool]) -> None:
        while not wait():
            try:
                self.adopt_newer_build()
            except UnusableIndex as error:
                log.warning("not following the index: %s", error)
            except Exception:
                log.exception("not following the index")
