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
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def read_checked(path: Path, checksum: str) -> bytearray | None:
    """The file's bytes if their SHA-256 is ``checksum``, else None (missing, short or changed).

    One read serves both the check and the decoding: reading each index file twice, once to
    hash it and once to decode it, was a third of opening a 100k-chunk index."""
    try:
        with path.open("rb", buffering=0) as handle:
            size = os.fstat(handle.fileno()).st_size
            buffer, done = bytearray(size), 0
            view = memoryview(buffer)
            while done < size:
                read = handle.readinto(view[done:])
                if not read:
                    return None
                done += read
    except FileNotFoundError:
        return None
    return buffer if hashlib.sha256(buffer).hexdigest() == checksum else None


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
