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

# (model, batch_size, cache_dir, progress) -> Embedder, plus (threads, lone_threads) for a backend
# registered with ``takes_threads``: intra-op threads under load and for a lone question
BackendFactory = Callable[..., Embedder]
MINILM = "all-MiniLM-L6-v2"  # the one model the shipped packages hold


@dataclass(frozen=True)
class Backend:
    factory: BackendFactory
    models: frozenset[str]
    takes_threads: bool = False


BACKENDS: dict[str, Backend] = {}


def register_backend(name: str, factory: BackendFactory, models: Iterable[str], takes_threads: bool = False) -> None:
    """Make ``[embedding] backend = name`` available for ``models`` (replaces a backend of that name)."""
    BACKENDS[name] = Backend(factory, frozenset(models), takes_threads)


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
    model: str,
    backend: str,
    batch_size: int,
    cache_dir: str,
    progress: Progress | None = None,
    threads: int = 1,
    lone_threads: int = 2,
) -> Embedder:
    """The configured backend; ONNX ones export or locate their model file under ``cache_dir``
    (``progress`` hears of a first-time export)."""
    chosen = check_embedding(model, backend)
    if chosen.takes_threads:
        return chosen.factory(model, batch_size, cache_dir, progress, threads, lone_threads)  # type: ignore[no-any-return]
    return chosen.factory(model, batch_size, cache_dir, progress)  # type: ignore[no-any-return]


def _torch(
    model: str, batch_size: int, cache_dir: str, progress: Progress | None, threads: int, lone_threads: int
) -> Embedder:
    from rag.embedding.sentence_transformers import SentenceTransformerEmbedder  # imports torch: only when chosen

    return SentenceTransformerEmbedder(model, batch_size, threads=threads)


def _onnx(backend: str) -> BackendFactory:
    def factory(
        model: str, batch_size: int, cache_dir: str, progress: Progress | None, threads: int, lone_threads: int
    ) -> Embedder:
        from rag.embedding.models import onnx_embedder

        return onnx_embedder(model, backend, batch_size, cache_dir, threads, lone_threads, progress)

    return factory


register_backend("torch", _torch, [MINILM], takes_threads=True)
register_backend("onnx", _onnx("onnx"), [MINILM], takes_threads=True)
register_backend("onnx-int8", _onnx("onnx-int8"), [MINILM], takes_threads=True)
