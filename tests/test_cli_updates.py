"""``rag add`` / ``rag remove``, and the log configuration ``rag serve`` hands to uvicorn."""

from __future__ import annotations

import logging.config
from pathlib import Path

import pytest
from click.testing import CliRunner

from rag.cli import main as cli
from rag.config import Settings
from rag.engine.service import QAService
from tests.conftest import FakeEmbedder

ROCKETS = "# Rocket notes\n\nThe Falcon rocket's first stage landed on the drone ship in April 2016.\n"


def _flat(output: str) -> str:
    """CLI output with rich's line wrapping undone."""
    return " ".join(output.split())


@pytest.fixture(autouse=True)
def fake_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("rag.engine.service.create_embedder", lambda *args, **kwargs: FakeEmbedder())
    monkeypatch.setattr("rag.cli.console.create_embedder", lambda *args, **kwargs: FakeEmbedder())  # the CLI's own


def test_add_and_remove_update_the_index_and_the_seeds(tmp_path: Path, settings: Settings) -> None:
    source = tmp_path / "Rocket Notes.md"
    source.write_text(ROCKETS, encoding="utf-8")
    runner = CliRunner()
    added = runner.invoke(cli.main, ["add", str(source)])
    assert added.exit_code == 0, added.output
    assert "rocket-notes added" in _flat(added.output) and "(1 embedded" in _flat(added.output)
    seed = Path(settings.paths.seeds) / "rocket-notes.md"
    assert seed.read_text(encoding="utf-8") == ROCKETS
    reopened = QAService.open(settings, embedder=FakeEmbedder())
    assert reopened.rebuilt is None and "rocket-notes" in reopened.data.documents

    again = runner.invoke(cli.main, ["add", str(source), "--id", "rocket-notes"])
    assert again.exit_code == 0 and "rocket-notes unchanged" in _flat(again.output)

    removed = runner.invoke(cli.main, ["remove", "rocket-notes"])
    assert removed.exit_code == 0, removed.output
    assert "rocket-notes removed" in _flat(removed.output) and "(0 embedded" in _flat(removed.output)
    assert not seed.exists()
    assert "rocket-notes" not in QAService.open(settings, embedder=FakeEmbedder()).data.documents


def test_add_and_remove_say_what_is_wrong(tmp_path: Path) -> None:
    runner = CliRunner()
    pdf = tmp_path / "paper.pdf"
    pdf.write_text("text", encoding="utf-8")
    assert "must end in .txt or .md" in _flat(runner.invoke(cli.main, ["add", str(pdf)]).output)
    blank = tmp_path / "blank.txt"
    blank.write_text("  \n", encoding="utf-8")
    assert "empty" in runner.invoke(cli.main, ["add", str(blank)]).output
    missing = runner.invoke(cli.main, ["remove", "no-such-document"])
    assert missing.exit_code == 1 and "no document with id 'no-such-document'" in _flat(missing.output)


def test_serve_logging_configuration_applies(capsys: pytest.CaptureFixture[str]) -> None:
    from rag.http.observability import RequestIdFilter, logging_config

    for fmt in ("json", "text"):
        logging.config.dictConfig(logging_config(fmt))
        handler = logging.getLogger("rag").handlers[0]
        assert any(isinstance(f, RequestIdFilter) for f in handler.filters)
    logging.getLogger("rag").handlers.clear()
    logging.getLogger("rag").propagate = True
    logging.getLogger("rag").setLevel(logging.NOTSET)
    logging.getLogger("rag.access").setLevel(logging.NOTSET)


def test_ask_prints_document_text_verbatim_never_as_markup(settings: Settings) -> None:
    text = "# Brackets [/] and [bold]tags[/bold]\n\nThe ferry [red]leaves[/] at noon from pier 4.\n"
    (Path(settings.paths.seeds) / "brackets.txt").write_text(text, encoding="utf-8")
    runner = CliRunner()
    answered = runner.invoke(cli.main, ["ask", "When does the ferry leave?"])
    assert answered.exit_code == 0, answered.output
    assert "[red]leaves[/]" in _flat(answered.output)
    abstained = runner.invoke(cli.main, ["ask", "How many kilometres is it from the Moon to Mars?"])
    assert abstained.exit_code == 0, abstained.output
    assert "nearest passages" in abstained.output
