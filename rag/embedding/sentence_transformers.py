"""all-MiniLM-L6-v2 run by sentence-transformers on torch (CPU): the ``torch`` backend.

The ONNX Runtime backends (``rag.embedding.onnx``) implement the same ``Embedder`` protocol
(``rag.embedding.base``); ``rag.embedding.registry`` picks one by name.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from rag.embedding.base import Vectors, forbid_hub_downloads, packaged_model_path

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer


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
