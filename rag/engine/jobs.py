"""Writes as jobs: one first-in, first-out queue per process, run one at a time on a worker thread.

A write (an upload, a removal, a full re-index) is submitted as a ``Job`` and runs when every
write before it has finished, so writes never fail for being concurrent: they wait their turn.
What may wait is bounded: ``Admission`` counts the upload bodies still arriving or waiting in
the queue, in number and in bytes (``[jobs] queue_size`` and ``queue_bytes``), and refuses one
more (``WritesBusy``) before its body is read. A finished job is kept for ``[jobs] history``
more jobs, so a client can poll for its outcome.

Cancelling a queued job removes it; cancelling a running one sets a flag that its progress
callback checks between stages and embedding batches (``Job.checkpoint``), so the build stops
at the next batch boundary, before anything is saved, and the engine that serves is untouched.
Once a build reaches its ``saving`` stage the change is on disk and the flag is ignored.
``forget`` drops a finished job's record (``DELETE /jobs/{id}`` cancels, then forgets).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from rag.errors import JobCancelled, UnknownJob, WritesBusy
from rag.index.build import Progress

log = logging.getLogger("rag.engine.jobs")

JobKind = Literal["upload", "remove", "reindex"]
JobState = Literal["queued", "running", "done", "failed", "cancelled"]
FINISHED: frozenset[str] = frozenset({"done", "failed", "cancelled"})
COMMITTED_STAGE = "saving"  # reported once the change is on disk: too late to cancel
RETRY_AFTER_S = 5


class Admission:
    """How many upload bodies, and how many of their bytes, may be arriving or queued at once.

    One body is always admitted when nothing else is pending, so a document at the size limit
    can always be sent; beyond that a body is admitted only while both budgets hold.
    """

    def __init__(self, slots: int, budget_bytes: int) -> None:
        self.slots, self.budget_bytes = slots, budget_bytes
        self._lock = threading.Lock()
        self.pending = 0
        self.pending_bytes = 0

    def admit(self, size: int) -> Slot:
        with self._lock:
            if self.pending and (self.pending >= self.slots or self.pending_bytes + size > self.budget_bytes):
                raise WritesBusy(
                    f"{self.pending} uploads ({self.pending_bytes} bytes) are already arriving or queued, the most "
                    f"[jobs] queue_size ({self.slots}) and queue_bytes ({self.budget_bytes}) allow; "
                    f"try again in {RETRY_AFTER_S} s"
                )
            self.pending += 1
            self.pending_bytes += size
        return Slot(self, size)

    def give_back(self, size: int) -> None:
        with self._lock:
            self.pending -= 1
            self.pending_bytes -= size


class Slot:
    """One admitted body; released once (by the request that failed, or by the job that ends)."""

    def __init__(self, admission: Admission, size: int) -> None:
        self._admission, self.size = admission, size
        self._released = threading.Event()

    def release(self) -> None:
        if not self._released.is_set():
            self._released.set()
            self._admission.give_back(self.size)


@dataclass
class Job:
    kind: JobKind
    document: str | None  # the document it changes (None for a re-index)
    run: Callable[[Progress], Any] | None = field(repr=False)  # dropped when finished: it holds the text
    scope: str | None = None  # the collection of the key that submitted it (rag.http.scopes)
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    state: JobState = "queued"
    created_at: float = field(default_factory=time.time)
    started_at: float | None = None
    finished_at: float | None = None
    stage: tuple[str, int, int] | None = None  # the latest progress report: stage, done, total
    result: Any = None
    error: BaseException | None = None
    slot: Slot | None = field(default=None, repr=False)
    cancel_requested: threading.Event = field(default_factory=threading.Event, repr=False)
    finished: threading.Event = field(default_factory=threading.Event, repr=False)

    def checkpoint(self, stage: str, done: int, total: int) -> None:
        """The progress callback the job's work reports to; raises ``JobCancelled`` when asked to stop."""
        self.stage = (stage, done, total)
        if stage != COMMITTED_STAGE and self.cancel_requested.is_set():
            raise JobCancelled(f"cancelled during {stage} ({done}/{total}); nothing was changed")

    def outcome(self, timeout: float | None = None) -> Any:
        """Wait for the job, then its result, or raise what it failed with."""
        if not self.finished.wait(timeout):
            raise TimeoutError(f"job {self.id} is still {self.state}")
        if self.error is not None:
            raise self.error
        return self.result


class JobQueue:
    def __init__(self, queue_size: int, history: int) -> None:
        self.queue_size, self.history = queue_size, history
        self._lock = threading.Lock()
        self._queue: deque[Job] = deque()
        self._jobs: OrderedDict[str, Job] = OrderedDict()  # every queued and running job, and the latest finished
        self._worker: threading.Thread | None = None
        self._idle = threading.Event()
        self._idle.set()
        self.listeners: list[Callable[[Job], None]] = []  # told of every job that finishes (metrics)

    def submit(self, job: Job) -> Job:
        """Queue ``job``; ``WritesBusy`` if ``queue_size`` jobs already wait (an admitted upload's
        slot was counted when its body arrived, so it is not refused twice)."""
        with self._lock:
            if job.slot is None and len(self._queue) >= self.queue_size:
                raise WritesBusy(f"{len(self._queue)} writes are queued, the most [jobs] queue_size allows; "
                                 f"try again in {RETRY_AFTER_S} s")  # fmt: skip
            self._queue.append(job)
            self._jobs[job.id] = job
            self._idle.clear()
            if self._worker is None:  # the worker ends when the queue is empty; a new one starts here
                self._worker = threading.Thread(target=self._work, name="rag-writes", daemon=True)
                self._worker.start()
        return job

    def get(self, job_id: str) -> Job:
        job = self._jobs.get(job_id)
        if job is None:
            raise UnknownJob(f"no job with id {job_id!r} (the latest {self.history} finished jobs are kept)")
        return job

    def cancel(self, job_id: str) -> Job:
        """Cancel a queued job now, or ask a running one to stop at its next checkpoint."""
        job = self.get(job_id)
        with self._lock:
            if job.state == "queued":
                self._queue.remove(job)
                self._finish(job, "cancelled", error=JobCancelled("cancelled while queued; nothing was changed"))
            elif job.state == "running":
                job.cancel_requested.set()
        return job

    def forget(self, job: Job) -> None:
        """Drop a finished job's record: ``get`` no longer finds it (a running one is kept)."""
        with self._lock:
            if job.state in FINISHED:
                self._jobs.pop(job.id, None)

    def active(self, kind: JobKind) -> Job | None:
        """A queued or running job of ``kind``, if any."""
        with self._lock:
            return next((j for j in self._jobs.values() if j.kind == kind and j.state not in FINISHED), None)

    def join(self, timeout: float | None = None) -> bool:
        """Wait until every submitted job has finished; False if ``timeout`` passed first."""
        return self._idle.wait(timeout)

    def _work(self) -> None:
        while True:
            with self._lock:
                if not self._queue:
                    self._worker = None
                    self._idle.set()
                    return
                job = self._queue.popleft()
                job.state, job.started_at = "running", time.time()
                run = job.run
            try:
                assert run is not None
                result = run(job.checkpoint)
            except JobCancelled as error:
                log.info("job %s (%s %s) cancelled", job.id, job.kind, job.document or "")
                self._done(job, "cancelled", error=error)
            except BaseException as error:  # kept for the client; the engine that serves is unchanged
                self._done(job, "failed", error=error)
            else:
                self._done(job, "done", result=result)

    def _done(self, job: Job, state: JobState, result: Any = None, error: BaseException | None = None) -> None:
        with self._lock:
            self._finish(job, state, result, error)
        for listener in self.listeners:
            try:
                listener(job)
            except Exception:
                log.exception("a job listener failed")

    def _finish(self, job: Job, state: JobState, result: Any = None, error: BaseException | None = None) -> None:
        """Under ``_lock``: record the outcome, free the job's slot, and forget the oldest finished jobs."""
        job.state, job.result, job.error, job.finished_at = state, result, error, time.time()
        job.run = None
        if job.slot is not None:
            job.slot.release()
        job.finished.set()
        finished = [j.id for j in self._jobs.values() if j.state in FINISHED]
        for stale in finished[: max(0, len(finished) - self.history)]:
            del self._jobs[stale]
