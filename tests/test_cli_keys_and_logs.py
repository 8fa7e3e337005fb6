"""The first ten minutes from the shell: a key in one command, quiet third-party logs, readable hints."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

import rag.cli.console as cli_console
from rag.cli.keys import KeyFileError, key_path, stored_key, with_api_key
from rag.cli.main import main
from rag.config import Settings
from tests.conftest import FakeEmbedder


@pytest.fixture
def fake_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli_console, "create_embedder", lambda *args, **kwargs: FakeEmbedder())


def test_key_new_stores_a_private_key_and_prints_it_once(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    result = CliRunner().invoke(main, ["key", "new"])
    assert result.exit_code == 0, result.output
    path = key_path(settings)
    key = path.read_text(encoding="ascii").strip()
    assert len(key) >= 32 and key in result.output
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    monkeypatch.delenv("RAG_SECURITY__API_KEY", raising=False)
    served = with_api_key(settings, generate=False)  # what `rag serve` does without --generate-key
    assert served.security.api_key == key and os.environ["RAG_SECURITY__API_KEY"] == key  # workers read it too
    again = CliRunner().invoke(main, ["key", "new"])
    assert path.read_text(encoding="ascii").strip() != key and key not in again.output  # a new key, shown once


def test_a_key_file_others_can_read_is_refused(settings: Settings) -> None:
    path = key_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("x" * 40, encoding="ascii")
    path.chmod(0o644)
    with pytest.raises(KeyFileError, match="chmod 600"):
        stored_key(path)


def test_a_configured_key_wins_over_the_stored_one(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.conftest import tuned

    configured = tuned(settings, security={"api_key": "c" * 20})
    assert with_api_key(configured, generate=False).security.api_key == "c" * 20
    assert not key_path(settings).exists()


def test_cli_logs_own_info_but_no_third_party_debug(fake_model: None, tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["index"])
    assert result.exit_code == 0, result.output
    assert "bm25s" not in result.stderr and "DEBUG" not in result.stderr
    assert "INFO rag: building the index: no index built yet in" in result.stderr  # INFO, not WARNING
    assert "embedding:" in result.stderr and "done in" in result.stderr  # one line per phase when piped
    assert "WARNING" not in result.stderr
    ours = [h for h in logging.getLogger().handlers if h.get_name() == cli_console.HANDLER_NAME]
    assert len(ours) == 1


def test_phase_logger_logs_each_phase_once(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="rag.cli")
    update = cli_console.phase_logger()
    for done in (32, 64, 64):
        update("embedding", done, 64)
    update("model export", 1, 1)
    lines = [r.getMessage() for r in caplog.records if r.name == "rag.cli"]
    assert len(lines) == 2 and lines[0].startswith("embedding: 64/64 done in")
