"""What every ``rag`` command shares: the consoles, logging, progress, and opening the engine.

Progress: in a terminal, rich bars (one per phase, with elapsed time); otherwise (a pipe, a
log file, CI) one log line per phase as it finishes, so a log says where the time went
without a line per batch. Logging: the service's own loggers (``rag.*``) at INFO (DEBUG with
``-v``), everything else at WARNING and up, whatever level a library sets on its own logger
(bm25s sets DEBUG on import).
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.logging import RichHandler
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from rag.config import Settings
from rag.embedding.registry import create_embedder
from rag.engine.service import QAService
from rag.index.build import Progress as ProgressCallback

console = Console(stderr=True)
out = Console(soft_wrap=True)  # results are for copying: lines are never broken at the width
log = logging.getLogger("rag.cli")
HANDLER_NAME = "rag-cli"


class OwnInfoOthersWarnings(logging.Filter):
    """Records of ``rag.*`` pass at their logger's level; other libraries' only from WARNING up."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.name == "rag" or record.name.startswith("rag.") or record.levelno >= logging.WARNING


class CurrentStderr(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at the time (test runners swap it per command)."""

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


def configure_logging(verbose: bool) -> None:
    """Install the CLI's handler on the root logger (replacing one a previous command installed)."""
    handler: logging.Handler
    if console.is_terminal:
        handler = RichHandler(console=console, show_time=False, show_path=False, markup=False)
    else:
        handler = CurrentStderr()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(OwnInfoOthersWarnings())
    handler.set_name(HANDLER_NAME)
    root = logging.getLogger()
    for previous in [h for h in root.handlers if h.get_name() == HANDLER_NAME]:
        root.removeHandler(previous)
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    logging.getLogger("rag").setLevel(logging.DEBUG if verbose else logging.INFO)


@contextmanager
def progress_bar() -> Iterator[ProgressCallback]:
    if not console.is_terminal:
        yield phase_logger()
        return
    columns = (TextColumn("{task.description:>12}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=False) as bar:
        tasks: dict[str, object] = {}

        def update(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done, total=total)  # type: ignore[arg-type]

        yield update


def phase_logger() -> ProgressCallback:
    """A progress callback that logs each phase once, when it completes, with its duration.

    Callers report after each batch, never at 0, so a phase is timed from the previous event."""
    last_event = time.perf_counter()
    started: dict[str, float] = {}
    finished: set[str] = set()

    def update(stage: str, done: int, total: int) -> None:
        nonlocal last_event
        now = time.perf_counter()
        started.setdefault(stage, last_event)
        last_event = now
        if done >= total and stage not in finished:
            finished.add(stage)
            log.info("%s: %d/%d done in %.1f s", stage, done, total, now - started[stage])

    return update


def open_service(settings: Settings, force_rebuild: bool = False) -> QAService:
    """The engine, exporting the model (first start only) and building the index as needed, with progress."""
    with progress_bar() as update:
        embedding = settings.embedding
        embedder = create_embedder(
            embedding.model, embedding.backend, embedding.batch_size, settings.paths.index, progress=update
        )
        return QAService.open(settings, embedder=embedder, progress=update, force_rebuild=force_rebuild)
