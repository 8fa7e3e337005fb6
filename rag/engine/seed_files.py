"""Seed files as a document change writes them: found by document id, and changed in a
transaction that puts them back if the index that matches them cannot be saved."""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path

from rag.documents.loading import SUFFIXES, doc_id_for
from rag.durable import fsync_dir, write_atomically

log = logging.getLogger("rag.engine.seed_files")


def seed_files_of(seeds: Path, doc_id: str) -> list[Path]:
    """Every seed file that names ``doc_id`` (e.g. ``notes.md`` and ``Notes.TXT`` both name ``notes``)."""
    if not seeds.is_dir():
        return []
    return sorted(
        p for p in seeds.iterdir() if p.is_file() and p.suffix.lower() in SUFFIXES and doc_id_for(p) == doc_id
    )


class SeedTransaction:
    """Seed-file changes that can be rolled back until the index that matches them is saved."""

    def __init__(self) -> None:
        self._undo: list[tuple[Path, bytes | None]] = []

    def _remember(self, path: Path) -> None:
        if any(p == path for p, _ in self._undo):
            return
        try:
            self._undo.append((path, path.read_bytes()))
        except FileNotFoundError:
            self._undo.append((path, None))

    def write(self, path: Path, data: bytes) -> None:
        self._remember(path)
        write_atomically(path, data)

    def delete(self, path: Path) -> None:
        self._remember(path)
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        fsync_dir(path.parent)

    def rollback(self) -> None:
        for path, data in reversed(self._undo):
            try:
                if data is None:
                    path.unlink(missing_ok=True)
                else:
                    write_atomically(path, data)
            except OSError:
                log.exception("could not restore seed file %s", path)
