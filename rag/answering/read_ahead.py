"""Reading ahead: a lone question's second head read runs on the spare core during its first.

The span head reads the reader's best sentences one at a time, and reads the second only when the
first one's margin leaves it a chance (``rag.answering.span``). Each read is a MiniLM pass on one
ONNX thread, so on a machine with a core to spare, a question alone in the process waits for two
passes in a row when it could wait for one. ``ReadAhead.start`` begins the second read on a
spare thread when no other read is running and no other question is being answered (embedded,
retrieved or read: ``QAService.ask`` counts them), before the first read starts; when the process
is busy it only defers the read, so that concurrent questions never pay for reads nobody uses.

Answers do not change: a read gives the same logits on either thread, and a read started ahead
whose sentence turns out not to be needed is dropped. Only when the work is done differs.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import TypeVar

T = TypeVar("T")


class ReadAhead:
    """Counts the head reads and the questions in flight in this process, and owns the one spare thread."""

    def __init__(self) -> None:
        self.after_fork()
        # A forked child has none of its parent's threads: it starts with its own pool and count.
        os.register_at_fork(after_in_child=self.after_fork)

    def after_fork(self) -> None:
        self.lock = threading.Lock()
        self.running = 0  # head reads in progress, on any thread
        self.asked = 0  # questions being answered (QAService.ask counts them)
        self.pool: ThreadPoolExecutor | None = None

    @contextmanager
    def reading(self) -> Iterator[None]:
        """Around a read done on the calling thread, so that other questions see the process busy."""
        with self.counting("running"):
            yield

    @contextmanager
    def asking(self) -> Iterator[None]:
        """Around a whole question: while another one is embedded or retrieved, the core is not spare."""
        with self.counting("asked"):
            yield

    @contextmanager
    def counting(self, name: str) -> Iterator[None]:
        with self.lock:
            setattr(self, name, getattr(self, name) + 1)
        try:
            yield
        finally:
            with self.lock:
                setattr(self, name, getattr(self, name) - 1)

    def start(self, read: Callable[[], T]) -> Callable[[], T]:
        """``read``, begun now on the spare thread if no other read runs and no other question is
        being answered, else deferred; call the result for its value. The caller is about to read on
        its own thread in the meantime."""
        with self.lock:
            idle = self.running == 0 and self.asked <= 1
            if idle:
                self.running += 1  # counted from now, so that a question arriving meanwhile stays on its own thread
                if self.pool is None:
                    self.pool = ThreadPoolExecutor(1, thread_name_prefix="rag-read-ahead")
                pool = self.pool
        if not idle:
            return lambda: self.counted(read)
        future: Future[T] = pool.submit(self.finished_after, read)
        return future.result

    def counted(self, read: Callable[[], T]) -> T:
        with self.reading():
            return read()

    def finished_after(self, read: Callable[[], T]) -> T:
        try:
            return read()
        finally:
            with self.lock:
                self.running -= 1


READ_AHEAD = ReadAhead()  # one per process: the cores it counts on are the process's
