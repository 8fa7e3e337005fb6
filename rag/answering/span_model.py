"""The span head's ONNX file: made once from the shipped weights, quantised to int8 and checked.

``rag.answering.span_export`` (in a child process, the only one that loads torch) rebuilds the
torch module from the packaged MiniLM and the shipped fine-tuned weights, exports it and
quantises it like the embedder (``rag.embedding.models.quantise_int8``: per-channel
dynamic int8, about twice as fast); the file is kept only if its logits on probe pairs stay within
``MAX_LOGIT_DRIFT`` of torch's. The file lives next to the embedder's under
``<index>/onnx/``, named by the weights' checksum, and is made again when it or they change.
"""

from __future__ import annotations

import tempfile
import threading
from pathlib import Path
from typing import Any

import numpy as np

from rag.answering.span_export import PACKAGED_WEIGHTS, PROBE_PAIRS
from rag.answering.span_head import SpanHead
from rag.config import Settings
from rag.durable import sha256_file
from rag.embedding.base import packaged_model_path
from rag.embedding.models import ensure_model, run_export
from rag.errors import ModelFileError

MAX_LOGIT_DRIFT = 2.5  # int8 vs torch, largest start/end logit difference on the probes (a broken export: ~8)
# One head per weights file and process, shared by every index the process opens (a document
# change opens a new service; the eval sets each have their own index folder).
_HEADS: dict[tuple[str, int, int], SpanHead] = {}
_HEADS_LOCK = threading.Lock()


def span_head(settings: Settings) -> SpanHead:
    """The configured span head (``[answering] span_head``, or the shipped weights), made in
    ``<index>/onnx`` the first time."""
    weights = Path(settings.answering.span_head or PACKAGED_WEIGHTS).resolve()
    # Keyed by the file's identity, not its checksum: every document change opens a new service,
    # and hashing 10 MB each time would be wasted (ensure_span_head checksums it once).
    stat = weights.stat()
    key = (str(weights), stat.st_mtime_ns, stat.st_size)
    with _HEADS_LOCK:
        if key not in _HEADS:
            _HEADS[key] = ensure_span_head(Path(settings.paths.index) / "onnx", weights)
        return _HEADS[key]


def ensure_span_head(folder: Path, weights: Path = PACKAGED_WEIGHTS, threads: int = 1) -> SpanHead:
    """The span head over its verified int8 file in ``folder``, making the file when needed."""
    model_dir = Path(packaged_model_path())
    source = sha256_file(weights)
    model = folder / f"span-head-{source[:12]}-int8.onnx"

    def make(temp: Path) -> dict[str, Any]:
        with tempfile.TemporaryDirectory(prefix="rag-span-export-") as scratch:
            probes = Path(scratch) / "probes.npy"
            run_export("rag.answering.span_export", [weights, model_dir, temp, probes], "the span head's export")
            drift = probe_drift(temp, model_dir / "tokenizer.json", np.load(probes))
        if drift > MAX_LOGIT_DRIFT:
            raise ModelFileError(f"the int8 span head drifts from torch by {drift:.2f} logits on the probes")
        return {"weights": str(weights), "probe_logit_drift": round(drift, 4)}

    ensure_model(model, model.with_name(model.name + ".json"), source, make)
    return SpanHead(model, model_dir / "tokenizer.json", threads)


def probe_drift(model: Path, tokenizer: Path, expected: np.ndarray[Any, Any]) -> float:
    head = SpanHead(model, tokenizer)
    worst = 0.0
    for row, (question, context) in enumerate(PROBE_PAIRS):
        _, start, end = head.logits(question, context)
        found = np.concatenate([start, end])
        worst = max(worst, float(np.abs(found - expected[row, : len(found)]).max()))
    return worst
