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


class UnknownSpan(RagError, LookupError):
    """A document has no such ``[start, end)`` span (reversed, empty, or beyond its end)."""


class UpdateConflict(RagError, RuntimeError):
    """The request conflicts with the state of the service (e.g. a re-index is already queued)."""


class CorpusFull(RagError, RuntimeError):
    """Adding this would take the corpus over ``[documents]`` max_documents or max_corpus_chars."""


class DocumentTooLarge(RagError, ValueError):
    """An upload's text (or its request body) is larger than ``[documents] max_document_bytes``."""


class WritesBusy(RagError, RuntimeError):
    """The write queue is full (``[jobs] queue_size`` / ``queue_bytes``); try again after a while."""


class JobCancelled(RagError, RuntimeError):
    """A queued or running write was cancelled before it changed anything."""


class UnknownJob(RagError, LookupError):
    """No job has this id (or it left the bounded history)."""


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


class RequestTimedOut(RagError):
    """A request's engine work ran longer than ``[server] request_timeout_s``."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"the request did not finish within {seconds:g} s; try again later")


# -- the machine ---------------------------------------------------------------------------------

# errno values that describe the machine or its files, not the request or the code: the index or
# seeds volume is full or read-only, the process ran out of file descriptors, or an operator put
# a folder where a file belongs (or the other way round). The API answers them 507 (no space) or
# 503 with the reason, the CLI with one line, and the engine that was serving keeps serving.
REASONS = {
    errno.ENOSPC: "no space left on the device that holds the index or the seeds",
    errno.EDQUOT: "the disk quota of the index or seeds folder is exhausted",
    errno.EROFS: "the index or seeds folder is on a read-only file system",
    errno.EMFILE: "the server has run out of file descriptors",
    errno.ENFILE: "the system has run out of file descriptors",
    errno.EACCES: "the server may not write to the index or seeds folder",
    errno.EPERM: "the server may not write to the index or seeds folder",
    errno.EIO: "an input/output error on the index or seeds volume",
    errno.EISDIR: "a folder stands where the index or seeds need a file",
    errno.ENOTDIR: "a file stands where the index or seeds need a folder",
    errno.EEXIST: "a file stands where the index or seeds need a folder",
}
HINTS = {
    errno.EISDIR: "move the folder away; rag index rebuilds what is missing",
    errno.ENOTDIR: "move the file away or point [paths] elsewhere",
    errno.EEXIST: "move the file away or point [paths] elsewhere",
    errno.EACCES: "give the user running rag write access, or point [paths] elsewhere",
    errno.EPERM: "give the user running rag write access, or point [paths] elsewhere",
    errno.EROFS: "point [paths] index at a writable folder",
    errno.ENOSPC: "free some space",
    errno.EDQUOT: "free some space",
}
NO_SPACE = frozenset({errno.ENOSPC, errno.EDQUOT})


def environmental(error: BaseException) -> bool:
    """Whether ``error`` is a failure of the machine or its files rather than a bug."""
    return isinstance(error, OSError) and error.errno in REASONS


def describe_os_error(error: OSError) -> str:
    """One line for a client: what failed, without the path (server paths never go into responses)."""
    reason = REASONS.get(error.errno or 0, error.strerror or "an operating-system error")
    return f"{reason}; the index that was serving keeps serving"


def explain_os_error(error: OSError) -> str:
    """One line for the operator: what failed, where, and what to do."""
    reason = REASONS.get(error.errno or 0, error.strerror or "an operating-system error")
    path = error.filename2 if error.filename2 is not None else error.filename  # a rename names its target second
    where = f": {path}" if path is not None else ""
    hint = HINTS.get(error.errno or 0)
    return f"{reason}{where}" + (f"; {hint}" if hint else "")
