"""Embedding backends by name: the seam where a new backend is added.

A backend is a factory ``(model, batch_size, cache_dir, progress) -> Embedder`` and the models
it can run (``progress``, when given, hears of slow one-time preparation such as the ONNX
export); ``[embedding] backend`` and ``model`` pick one. Adding a backend means one module and
one ``register_backend`` call (a test registers a fake one). An unknown backend or a model the
backend cannot run is a ``ConfigError`` at start, naming what is available: a label that
silently loaded another model would build an index whose fingerprint lies.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from rag.embedding.base import Embedder, Progress
from rag.errors import ConfigError

BackendFactory = Callable[[str, int, str, Progress | None], Embedder]  # (model, batch_size, cache_dir, progress)
MINILM = "all-MiniLM-L6-v2"  # the one model the shipped packages hold


@dataclass(frozen=True)
class Backend:
    factory: BackendFactory
    models: frozenset[str]


BACKENDS: dict[str, Backend] = {}


def register_backend(name: str, factory: BackendFactory, models: Iterable[str]) -> None:
    """Make ``[embedding] backend = name`` available for ``models`` (replaces a backend of that name)."""
    BACKENDS[name] = Backend(factory, frozenset(models))


def check_embedding(model: str, backend: str) -> Backend:
    """The backend for ``backend`` if it can run ``model``; else a ``ConfigError`` that says what can."""
    chosen = BACKENDS.get(backend)
    if chosen is None:
        known = ", ".join(sorted(BACKENDS))
        raise ConfigError(f"embedding.backend {backend!r} is not available; choose one of: {known}")
    if model not in chosen.models:
        known = ", ".join(sorted(chosen.models))
        raise ConfigError(f"embedding.model {model!r} is not available with backend {backend!r}; it runs: {known}")
    return chosen


def create_embedder(
    model: str, backend: str, batch_size: int, cache_dir: str, progress: Progress | None = None
) -> Embedder:
    """The configured backend; ONNX ones export or locate their model file under ``cache_dir``
    (``progress`` hears of a first-time export)."""
    return check_embedding(model, backend).factory(model, batch_size, cache_dir, progress)


def _torch(model: str, batch_size: int, cache_dir: str, progress: Progress | None) -> Embedder:
    from rag.embedding.sentence_transformers import SentenceTransformerEmbedder  # imports torch: only when chosen

    return SentenceTransformerEmbedder(model, batch_size)


def _onnx(backend: str) -> BackendFactory:
    def factory(model: str, batch_size: int, cache_dir: str, progress: Progress | None) -> Embedder:
        from rag.embedding.onnx import OnnxEmbedder

        return OnnxEmbedder.for_backend(model, backend, batch_size, cache_dir, progress=progress)

    return factory


register_backend("torch", _torch, [MINILM])
register_backend("onnx", _onnx("onnx"), [MINILM])
register_backend("onnx-int8", _onnx("onnx-int8"), [MINILM])
