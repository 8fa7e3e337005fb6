"""The one owner of the engine that serves: every change goes through ``LiveEngine``.

Readers take ``engine``, a plain attribute read, so a request finishes on the engine it started
with. Writers (a document upload or removal, a full re-index) are jobs in one first-in,
first-out queue (``rag.engine.jobs``) that a worker thread runs one at a time: a write that
arrives while another runs waits its turn instead of being refused. Each job takes the
process's writer lock and, when it writes files, the index folder's lock file
(``IndexStore.writer_lock``) shared by every process; it builds its new engine off to the side,
starting from the engine that serves once it holds the locks, and swaps it in with one
assignment. So no change is ever built on a state that another change has since replaced: a
re-index queued behind an upload reads the seeds folder with the upload in it, and an upload
queued behind a re-index builds on the re-indexed engine. A build another process saved is
adopted between jobs.

``upload`` and ``remove`` submit a job and wait for it (the CLI); the HTTP API submits and
answers with the job (``rag.http.documents``, ``rag.http.jobs``). A job can be cancelled while
queued, or while running at its next embedding batch, before anything is saved.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

from rag.config import Settings
from rag.engine import updates
from rag.engine.jobs import Admission, Job, JobKind, JobQueue, Slot
from rag.engine.service import QAService, info
from rag.errors import CorpusFull, DocumentTooLarge, JobCancelled, NotReady, UnusableIndex
from rag.index.build import Progress
from rag.index.store import IndexStore
from rag.records import DEFAULT_COLLECTION, DocumentChange, MetadataValue, ReindexStatus

log = logging.getLogger("rag.engine.live")

EngineFactory = Callable[[Settings], QAService]
# builds a fresh engine from seeds/, given the live one and the progress callback its job checks
Rebuilder = Callable[[QAService, Progress], QAService]
Change = Callable[[QAService, Progress], updates.UpdateResult]


def rebuild_from_seeds(current: QAService, progress: Progress) -> QAService:
    """The default re-index: re-read seeds/ and rebuild with the live engine's settings and model."""
    return QAService.open(current.settings, embedder=current.embedder, progress=progress, force_rebuild=True)


def describe(result: updates.UpdateResult) -> DocumentChange:
    """What a change did, without holding on to its engine (finished jobs are kept a while)."""
    data = result.service.data
    doc = data.documents.get(result.doc_id)
    return DocumentChange(
        doc_id=result.doc_id, action=result.action, document=info(doc) if doc is not None else None,
        previous_sha256=result.previous_sha256, index_version=data.manifest.version, documents=len(data.documents),
        chunks=data.manifest.chunks, chunks_embedded=result.chunks_embedded, chunks_reused=result.chunks_reused,
        elapsed_ms=result.elapsed_ms,
    )  # fmt: skip


class LiveEngine:
    def __init__(
        self, settings: Settings, open_engine: EngineFactory = QAService.open, rebuild: Rebuilder = rebuild_from_seeds
    ) -> None:
        self.settings = settings
        self.engine: QAService | None = None  # replaced only by one assignment, under ``_writer``
        self._open = open_engine
        self._rebuild = rebuild
        self._writer = threading.Lock()  # held by the running job, and while adopting another process's build
        self._bookkeeping = threading.Lock()  # at most one re-index queued or running
        self._reindex: Job | None = None
        limits = settings.jobs
        self.jobs = JobQueue(limits.queue_size, limits.history)
        self.admission = Admission(limits.queue_size, limits.queue_bytes)  # upload bodies arriving or queued

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

    def submit_upload(
        self,
        text: str,
        doc_id: str | None = None,
        filename: str | None = None,
        collection: str = DEFAULT_COLLECTION,
        metadata: dict[str, MetadataValue] | None = None,
        title: str | None = None,
        *,
        scope: str | None = None,
        slot: Slot | None = None,
        progress: Progress | None = None,
    ) -> Job:
        """Queue an add or replace (validated as a seed file would be, when it runs); refused at
        once if it is over ``[documents]`` max_document_bytes or would overfill the corpus."""
        name, _ = updates.resolve_name(doc_id, filename)
        self.check_room(name, text)
        return self._submit(
            "upload", name, scope, slot, progress,
            lambda engine, report: updates.upload(engine, text, doc_id, filename, report, collection, metadata, title),
        )  # fmt: skip

    def submit_remove(self, doc_id: str, *, scope: str | None = None, progress: Progress | None = None) -> Job:
        return self._submit("remove", doc_id, scope, None, progress, lambda e, pr: updates.remove(e, doc_id, pr))

    def upload(
        self,
        text: str,
        doc_id: str | None = None,
        filename: str | None = None,
        progress: Progress | None = None,
        collection: str = DEFAULT_COLLECTION,
        metadata: dict[str, MetadataValue] | None = None,
        title: str | None = None,
    ) -> DocumentChange:
        """Add or replace a document and wait until it is served."""
        job = self.submit_upload(text, doc_id, filename, collection, metadata, title, progress=progress)
        result: DocumentChange = job.outcome()
        return result

    def remove(self, doc_id: str, progress: Progress | None = None) -> DocumentChange:
        result: DocumentChange = self.submit_remove(doc_id, progress=progress).outcome()
        return result

    def check_room(self, doc_id: str, text: str) -> None:
        """Refuse an upload the limits of ``[documents]`` already rule out, before it is queued
        (the build checks the corpus limits again against the corpus it builds on)."""
        limits = self.settings.documents
        size = len(text.encode("utf-8", errors="surrogatepass"))
        if size > limits.max_document_bytes:
            raise DocumentTooLarge(
                f"the document is {size} bytes, over [documents] max_document_bytes ({limits.max_document_bytes})"
            )
        documents = self.require().data.documents
        previous = documents.get(doc_id)
        if previous is None and len(documents) >= limits.max_documents:
            raise CorpusFull(
                f"the corpus holds its limit of {limits.max_documents} documents ([documents] max_documents); "
                "remove one first"
            )
        chars = sum(len(d.text) for d in documents.values()) - (len(previous.text) if previous else 0) + len(text)
        if chars > limits.max_corpus_chars:
            raise CorpusFull(
                f"the corpus would hold {chars} characters, over its limit of {limits.max_corpus_chars} "
                "([documents] max_corpus_chars); remove documents first"
            )

    def _submit(
        self, kind: JobKind, doc_id: str, scope: str | None, slot: Slot | None, progress: Progress | None,
        change: Change,
    ) -> Job:  # fmt: skip
        def run(checkpoint: Progress) -> DocumentChange:
            def report(stage: str, done: int, total: int) -> None:
                checkpoint(stage, done, total)  # raises when the job was cancelled
                if progress is not None:
                    progress(stage, done, total)

            with self._writer:
                with IndexStore(Path(self.settings.paths.index)).writer_lock():
                    result = change(self.require(), report)
                self.engine = result.service  # the swap; requests in flight keep the engine they hold
            return describe(result)

        return self.jobs.submit(Job(kind, doc_id, run, scope, slot=slot))

    # -- full re-index -----------------------------------------------------------------------

    @property
    def reindex_status(self) -> ReindexStatus:
        """The latest re-index: queued, running, or how it ended."""
        job = self._reindex
        if job is None:
            return ReindexStatus(state="idle")
        if job.state == "done":
            done: ReindexStatus = job.result
            return done
        error = None if job.error is None else f"{type(job.error).__name__}: {job.error}"
        state = "cancelled" if job.state == "cancelled" else "failed" if job.state == "failed" else job.state
        return ReindexStatus(state, job.started_at, job.finished_at, error=error, job=job.id)

    def start_reindex(self) -> ReindexStatus | None:
        """Queue a rebuild from seeds/; ``None`` if one is already queued or running."""
        with self._bookkeeping:
            if self._reindex is not None and self._reindex.state in ("queued", "running"):
                return None
            self.require()
            job = Job("reindex", None, None)
            job.run = lambda checkpoint: self._run_reindex(job, checkpoint)
            self.jobs.submit(job)
            self._reindex = job
            return self.reindex_status

    def _run_reindex(self, job: Job, checkpoint: Progress) -> ReindexStatus:
        try:
            with self._writer:  # a job that ran before this one has its seed file in the folder by now
                fresh = self._rebuild(self.require(), checkpoint)
                self.engine = fresh
        except JobCancelled:
            raise
        except Exception as error:
            log.error("reindex failed; the previous index keeps serving", exc_info=error)  # no request data here
            raise
        manifest = fresh.data.manifest
        log.info("reindexed: index %s, %d documents, %d chunks", manifest.version, len(fresh.data.documents),
                 manifest.chunks)  # fmt: skip
        return ReindexStatus("succeeded", job.started_at, time.time(), manifest.version, len(fresh.data.documents),
                             manifest.chunks, job=job.id)  # fmt: skip

    def join(self, timeout: float | None = None) -> bool:
        """Wait for every queued write to finish."""
        return self.jobs.join(timeout)

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
