"""The fake embedder of the fast suite, in a module of its own so that the crash tests'
subprocesses (tests/crash_build.py) import it without the app and the test fixtures."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np

from rag.embedding.base import Vectors
from rag.text.normalize import content_terms


class FakeEmbedder:
    name = "fake-bag-of-words"
    dim = 64

    def embed(self, texts: Sequence[str]) -> Vectors:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for term in content_terms(text) or ["<empty>"]:
                out[row, int(hashlib.md5(term.encode()).hexdigest(), 16) % self.dim] += 1.0
        return out / np.linalg.norm(out, axis=1, keepdims=True)

    def count_word_pieces(self, text: str) -> int:
        return len(text.split()) + text.count(",")
