"""Durable file writes: what survives a crash or a power cut, and how to tell a file is intact.

A file is written to a temporary name, flushed and fsynced, renamed over its target, and the
folder is fsynced so the rename itself is on disk; a SHA-256 of the bytes lets a reader check
the file later. Left out: Windows semantics (``os.replace`` over an open file) and fsync of
network file systems, whose guarantees vary.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

TEMPORARY_SUFFIX = ".tmp"  # a file being written; one left behind by a crash is removed at start


def make_unique_dir(parent: Path, prefix: str) -> Path:
    """A new, uniquely named folder whose mode follows the umask (``tempfile.mkdtemp`` forces 0700)."""
    while True:
        folder = parent / f"{prefix}{uuid.uuid4().hex[:12]}"
        try:
            folder.mkdir(mode=0o777)
            return folder
        except FileExistsError:
            continue


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fsync_dir(folder: Path) -> None:
    """Make renames and deletions inside ``folder`` durable."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_synced(path: Path, data: bytes) -> None:
    """Write ``path`` (a fresh name; nobody reads it yet) and flush it to disk."""
    with path.open("wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def write_array_synced(path: Path, array: npt.NDArray[Any]) -> None:
    with path.open("wb") as handle:
        np.save(handle, array)
        handle.flush()
        os.fsync(handle.fileno())


def write_atomically(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data``: a temporary file beside it, fsync, rename, fsync the folder."""
    # os.open with 0o666 lets the umask decide the mode, as for any file the user writes
    # (mkstemp's 0600 kept replicas running as another user from reading seeds written here).
    tmp = path.parent / f".{path.name}.{uuid.uuid4().hex[:12]}{TEMPORARY_SUFFIX}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)
