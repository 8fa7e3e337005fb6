"""Settings: the TOML file, environment overrides, and clear errors for invalid values."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.config import Settings, load_settings
from rag.errors import ConfigError
from tests.conftest import ROOT

SHIPPED = ROOT / "config" / "rag.toml"


def test_the_code_defaults_are_the_shipped_file() -> None:
    shipped, defaults = load_settings(SHIPPED, environ={}), Settings()
    for section in Settings.__struct_fields__:  # a difference here means one of them lies
        assert getattr(shipped, section) == getattr(defaults, section), section
    assert shipped == defaults
    assert shipped.security.api_key == "" and not shipped.security.cors_origins  # closed unless configured


def test_env_overrides_are_typed() -> None:
    settings = load_settings(
        SHIPPED,
        environ={
            "RAG_RETRIEVAL__TOP_K": "3",
            "RAG_ANSWERING__PASSAGES_CONSIDERED": "7",
            "RAG_SECURITY__READ_REQUIRES_KEY": "true",
            "RAG_SECURITY__API_KEY": "0123456789012345",  # digits only: still a string
            "RAG_SECURITY__CORS_ORIGINS": '["https://a.example", "https://b.example"]',
            "RAG_RETRIEVAL__MODE": "dense",
            "RAG_SERVER__HOST": "0.0.0.0",
            "RAG_PATHS__SEEDS": "true",  # a str setting keeps the text even when it looks like TOML
        },
    )
    assert settings.retrieval.top_k == 3 and isinstance(settings.retrieval.top_k, int)
    assert settings.answering.passages_considered == 7
    assert settings.security.read_requires_key is True
    assert settings.security.api_key == "0123456789012345"
    assert settings.security.cors_origins == ["https://a.example", "https://b.example"]
    assert settings.retrieval.mode == "dense"
    assert settings.server.host == "0.0.0.0"
    assert settings.paths.seeds == "true"


def test_rag_config_variable_selects_the_file(tmp_path: Path) -> None:
    other = tmp_path / "other.toml"
    other.write_text("[retrieval]\ntop_k = 7\n", encoding="utf-8")
    assert load_settings(environ={"RAG_CONFIG": str(other)}).retrieval.top_k == 7
    assert load_settings(environ={"RAG_CONFIG": str(other), "RAG_RETRIEVAL__TOP_K": "2"}).retrieval.top_k == 2


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"RAG_RETRIEVAL__TOP_K": "three"}, "Expected `int`, got `str` - at `$.retrieval.top_k`"),
        ({"RAG_RETRIEVAL__TOP_K": "0"}, "Expected `int` >= 1 - at `$.retrieval.top_k`"),
        ({"RAG_RETRIEVAL__TOP_K": "51"}, "top_k (51) must not exceed max_top_k (50)"),
        ({"RAG_RETRIEVAL__MODE": "magic"}, "Invalid enum value 'magic' - at `$.retrieval.mode`"),
        ({"RAG_CHUNKING__MAX_TOKENS": "4"}, "Expected `int` >= 8 - at `$.chunking.max_tokens`"),
        (
            {"RAG_CHUNKING__MAX_TOKENS": "64", "RAG_CHUNKING__OVERLAP_TOKENS": "64"},
            "overlap_tokens (64) must be less than max_tokens (64)",
        ),
        ({"RAG_ANSWERING__PASSAGES_CONSIDERED": "0"}, "Expected `int` >= 1 - at `$.answering.passages_considered`"),
        ({"RAG_SERVER__PORT": "70000"}, "Expected `int` <= 65535 - at `$.server.port`"),
        ({"RAG_SERVER__REQUEST_TIMEOUT_S": "0"}, "Expected `float` > 0.0 - at `$.server.request_timeout_s`"),
        ({"RAG_SERVER__MAX_BODY_BYTES": "-1"}, "Expected `int` >= 1 - at `$.server.max_body_bytes`"),
        ({"RAG_RATE_LIMIT__UNIT": "fortnight"}, "Invalid enum value 'fortnight' - at `$.rate_limit.unit`"),
        ({"RAG_SECURITY__API_KEY": "short"}, "api_key must be at least 16 characters"),
        (
            {"RAG_SECURITY__CORS_ORIGINS": '["*"]', "RAG_SECURITY__CORS_ALLOW_CREDENTIALS": "true"},
            "cors_allow_credentials cannot be combined with the origin '*'",
        ),
        ({"RAG_NOPE__KEY": "1"}, "Object contains unknown field `nope`"),
        ({"RAG_RETRIEVAL__TOPK": "1"}, "Object contains unknown field `topk` - at `$.retrieval`"),
        ({"RAG_CONFIG": "/nonexistent/rag.toml"}, "configuration file /nonexistent/rag.toml does not exist"),
    ],
)
def test_invalid_values_raise_a_clear_config_error(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(SHIPPED if "RAG_CONFIG" not in environ else None, environ=environ)
    assert message in str(caught.value)
    overridden = [name for name in environ if "__" in name]
    for name in overridden:  # the error names the variable that caused it
        assert name in str(caught.value)


def test_invalid_toml_file_is_a_config_error(tmp_path: Path) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text("[retrieval\ntop_k = 3\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"broken\.toml\): not valid TOML"):
        load_settings(broken, environ={})
    wrong_type = tmp_path / "wrong.toml"
    wrong_type.write_text('[retrieval]\ntop_k = "5"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"wrong\.toml\): Expected `int`, got `str` - at `\$.retrieval.top_k`"):
        load_settings(wrong_type, environ={})


def test_the_default_file_is_found_from_any_working_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "rag.toml").write_text("[answering]\npassages_considered = 9\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)  # a config/rag.toml here is not the project's
    assert load_settings(environ={}) == load_settings(SHIPPED, environ={})


def test_a_window_larger_than_the_model_s_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"max_word_pieces \(1024\) exceeds the model's window of 256"):
        load_settings(SHIPPED, environ={"RAG_EMBEDDING__MAX_WORD_PIECES": "1024"})


def test_a_model_no_backend_runs_is_refused_at_start(settings: Settings) -> None:
    from rag.engine.service import QAService
    from tests.conftest import tuned

    with pytest.raises(ConfigError, match=r"embedding\.model 'bge-small' is not available with backend 'onnx-int8'"):
        QAService.open(tuned(settings, embedding={"model": "bge-small"}))
    with pytest.raises(ConfigError, match=r"embedding\.backend 'gpu' is not available; choose one of: onnx, onnx-int8"):
        QAService.open(tuned(settings, embedding={"backend": "gpu"}))


def test_the_cli_says_what_is_wrong_with_the_model_in_one_line() -> None:
    from click.testing import CliRunner

    from rag.cli import main as cli

    result = CliRunner().invoke(cli.main, ["index"], env={"RAG_EMBEDDING__MODEL": "bge-small"})
    assert result.exit_code == 1 and "Error: embedding.model 'bge-small' is not available" in result.output
    assert "Traceback" not in result.output


def test_a_registered_backend_is_used(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    from rag.embedding import registry
    from rag.engine.service import QAService
    from tests.conftest import FakeEmbedder, tuned

    made: list[tuple[str, int, str]] = []

    def fake_backend(model: str, batch_size: int, cache_dir: str, progress: object) -> FakeEmbedder:
        made.append((model, batch_size, cache_dir))
        return FakeEmbedder()

    monkeypatch.setitem(registry.BACKENDS, "fake", registry.Backend(fake_backend, frozenset({"bag-of-words"})))
    service = QAService.open(tuned(settings, embedding={"backend": "fake", "model": "bag-of-words"}))
    assert made == [("bag-of-words", settings.embedding.batch_size, settings.paths.index)]
    assert service.data.manifest.fingerprint.model == FakeEmbedder.name
    assert service.ask("What does Moscow insist Ukraine must do?").citations


def test_the_api_key_never_appears_in_the_settings_repr() -> None:
    settings = load_settings(SHIPPED, environ={"RAG_SECURITY__API_KEY": "very-secret-key-0123"})
    assert "very-secret-key-0123" not in repr(settings)
    assert "very-secret-key-0123" not in str(settings.security)
