"""Shared fixtures: a fake deterministic embedder and an isolated environment per test.

The fake embedder hashes stemmed words into a 64-d bag of words, so similar texts get similar
vectors (good enough to test the plumbing) without loading a model. Tests marked ``model``
use the real all-MiniLM-L6-v2, loaded once per session.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest

from rag.config import Settings, load_settings
from rag.embedding import Vectors
from rag.service import QAService
from rag.textnorm import content_terms

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "seeds" / "us-ukraine-russia-negotiations.txt"


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


@pytest.fixture(autouse=True)
def isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test reads the developer's RAG_* variables or touches the real index/."""
    import os

    for name in list(os.environ):
        if name.startswith("RAG_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("RAG_CONFIG", str(ROOT / "config" / "rag.toml"))
    monkeypatch.setenv("RAG_PATHS__INDEX", str(tmp_path / "index"))
    monkeypatch.setenv("RAG_PATHS__SEEDS", str(tmp_path / "seeds"))
    (tmp_path / "seeds").mkdir()
    shutil.copy(SEED, tmp_path / "seeds" / SEED.name)


@pytest.fixture
def settings() -> Settings:
    return load_settings()


@pytest.fixture
def fake_embedder() -> FakeEmbedder:
    return FakeEmbedder()


@pytest.fixture
def service(settings: Settings, fake_embedder: FakeEmbedder) -> QAService:
    return QAService.open(settings, embedder=fake_embedder)


@pytest.fixture(scope="session")
def real_embedder() -> Iterator[object]:
    from rag.embedding import SentenceTransformerEmbedder

    yield SentenceTransformerEmbedder()


@pytest.fixture
def real_service(settings: Settings, real_embedder: object) -> QAService:
    return QAService.open(settings, embedder=real_embedder)  # type: ignore[arg-type]
