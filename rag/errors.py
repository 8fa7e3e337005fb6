"""Every domain error of the package, in one tree.

Modules raise these; each front end (``rag.http`` as problem details, ``rag.cli`` as a
message and exit status) decides how to say no. Nothing here knows about transport. The
classes keep the built-in base each had before it moved here (``ValueError``,
``LookupError``, ``RuntimeError``), so callers that caught the built-in still do.
"""

from __future__ import annotations

import errno


class RagError(Exception):
    """Base of every error this package raises on purpose."""


# -- the caller asked for something that cannot be done as asked -------------------------------


class BadRequest(RagError, ValueError):
    """The caller asked for something that cannot be answered as asked."""


class UnknownDocument(RagError, LookupError):
    """No document has this id."""


class UpdateConflict(RagError, RuntimeError):
    """The change cannot run now (another one or a full re-index is running); try again later."""


class NotReady(RagError, RuntimeError):
    """No engine is loaded yet (the server is starting)."""


# -- the operator's files ------------------------------------------------------------------------


class ConfigError(RagError, ValueError):
    """The configuration file or an override is invalid."""


class DocumentError(RagError, ValueError):
    """A file cannot be a document; the message says why."""


class UnusableIndex(RagError, RuntimeError):
    """The index on disk cannot be used; the message says why."""


class ModelFileError(RagError, RuntimeError):
    """An ONNX model file is missing, damaged or does not match its source."""


# -- bugs ------------------------------------------------------------------------------------------


class CitationMismatch(RagError, RuntimeError):
    """A citation's quote differs from the source at its offsets: a bug, never served."""


# -- the machine ---------------------------------------------------------------------------------

# errno values that describe the machine, not the request or the code: the index or seeds
# volume is full or read-only, or the process ran out of file descriptors. They are answered
# 507/503 with the reason, and the engine that was serving keeps serving.
NO_SPACE = frozenset({errno.ENOSPC, errno.EDQUOT})
UNAVAILABLE = frozenset({errno.EROFS, errno.EMFILE, errno.ENFILE, errno.EACCES, errno.EPERM, errno.EIO})


def environmental(error: BaseException) -> bool:
    """Whether ``error`` is a failure of the machine (disk, permissions, descriptors)."""
    return isinstance(error, OSError) and error.errno in NO_SPACE | UNAVAILABLE


def describe_os_error(error: OSError) -> str:
    """One line for operators and clients: what failed, without a traceback. The path is left out
    (it goes to the log only: server paths never go into responses)."""
    reasons = {
        errno.ENOSPC: "no space left on the device that holds the index or the seeds",
        errno.EDQUOT: "the disk quota of the index or seeds folder is exhausted",
        errno.EROFS: "the index or seeds folder is on a read-only file system",
        errno.EMFILE: "the server has run out of file descriptors",
        errno.ENFILE: "the system has run out of file descriptors",
        errno.EACCES: "the server may not write to the index or seeds folder",
        errno.EPERM: "the server may not write to the index or seeds folder",
        errno.EIO: "an input/output error on the index or seeds volume",
    }
    reason = reasons.get(error.errno or 0, error.strerror or "an operating-system error")
    return f"{reason}; the index that was serving keeps serving"
