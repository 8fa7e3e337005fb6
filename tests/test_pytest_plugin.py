"""The pytest plugin (rag.eval.pytest_plugin) as a user runs it, through pytest's own ``pytester``.

Each test writes a user's folder (seeds, gold file, pyproject.toml, conftest.py) and runs
pytest in it. The conftest returns the fake embedder through the plugin's public hook
``pytest_rag_embedder``, so no model is loaded.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.conftest import FakeEmbedder

pytest_plugins = ("pytester",)

HARBOUR = (
    "# Fenwick harbour\n\n"
    "The Fenwick lighthouse was built in 1872 by the engineer Mara Quill.\n\n"
    "The harbour master today is Tomas Brenner, who keeps the tide tables.\n\n"
    # Two sentences: the model of 2026-11-30 (night) answers "1964 and became a museum of boats" from
    # the one-sentence version (F1 0.29); these tests are about the plugin, not that span.
    "The old fish market closed in 1964. It became a museum of boats.\n"
)
FERRIES = "# Ferries\n\nFerries leave for Lundy Island every Tuesday at nine in the morning.\n"
CONFTEST = """
from tests.conftest import FakeEmbedder

def pytest_rag_embedder(config, settings):
    return FakeEmbedder()
"""
QUESTIONS = [
    ("lighthouse", "When was the Fenwick lighthouse built?", "1872", HARBOUR, "Fenwick lighthouse was built in 1872"),
    ("master", "Who is the harbour master?", "Tomas Brenner", HARBOUR, "The harbour master today is Tomas Brenner"),
    ("market", "When did the old fish market close?", "1964", HARBOUR, "The old fish market closed in 1964"),
    (
        "ferries",
        "When do ferries leave for Lundy Island?",
        "every Tuesday at nine in the morning",
        FERRIES,
        "Ferries leave for Lundy Island every Tuesday at nine in the morning",
    ),
]
THRESHOLDS = "[tool.rag.eval]\nmin_f1 = 0.5\nmin_citation_recall = 0.9\nmin_abstention = 1.0\n"


def gold_lines(answers: dict[str, str] | None = None) -> str:
    lines = []
    for qid, question, answer, text, evidence in QUESTIONS:
        start = text.index(evidence)
        line = {
            "id": qid,
            "question": question,
            "answers": [(answers or {}).get(qid, answer)],
            "evidence": [{"start": start, "end": start + len(evidence), "text": evidence}],
            "kind": "fact",
        }
        lines.append(json.dumps(line, ensure_ascii=False))
    unanswerable = {"id": "capital", "question": "What is the capital of Australia?", "kind": "unanswerable"}
    lines.append(json.dumps({**unanswerable, "answers": [], "evidence": []}))
    return "\n".join(lines) + "\n"


@pytest.fixture
def user(pytester: pytest.Pytester) -> pytest.Pytester:
    """A user's project: two documents, five gold questions, thresholds, the fake embedder."""
    (pytester.path / "seeds").mkdir()
    (pytester.path / "seeds" / "harbour.md").write_text(HARBOUR, encoding="utf-8")
    (pytester.path / "seeds" / "ferries.md").write_text(FERRIES, encoding="utf-8")
    (pytester.path / "gold.jsonl").write_text(gold_lines(), encoding="utf-8")
    (pytester.path / "pyproject.toml").write_text(THRESHOLDS, encoding="utf-8")
    pytester.makeconftest(CONFTEST)
    return pytester


def run(user: pytest.Pytester, *args: str) -> pytest.RunResult:
    return user.runpytest("--rag-gold", "gold.jsonl", "--rag-seeds", "seeds", "-p", "no:cacheprovider", *args)


def test_every_question_is_an_item_and_the_set_passes(user: pytest.Pytester) -> None:
    result = run(user, "-v", "--junitxml=report.xml")
    result.assert_outcomes(passed=5 + 3)
    result.stdout.fnmatch_lines(["*gold.jsonl::master PASSED*", "*gold.jsonl::threshold:min_citation_recall PASSED*"])
    cases = ET.parse(user.path / "report.xml").getroot().iter("testcase")
    names = {case.get("name") for case in cases}
    assert {"lighthouse", "master", "market", "ferries", "capital", "threshold:min_f1"} <= names


def test_a_gold_answer_the_documents_do_not_give_fails_that_item_only(user: pytest.Pytester) -> None:
    (user.path / "gold.jsonl").write_text(gold_lines({"master": "Captain Nemo of the Nautilus"}), encoding="utf-8")
    result = run(user, "--rag-threshold", "min_f1=0.1")
    result.assert_outcomes(passed=7, failed=1)
    result.stdout.fnmatch_lines(
        [
            "gold question master (fact): Who is the harbour master?",
            "*missed: token F1 0.00 is below 0.30*",
            "*answer   'Captain Nemo of the Nautilus'*",
            "*evidence harbour[[]*] 'The harbour master today is Tomas Brenner'*",
            "*cites    harbour[[]*",
            "FAILED gold.jsonl::master - gold question master*",
        ]
    )


def test_removing_the_supporting_document_fails_the_threshold_item(user: pytest.Pytester) -> None:
    (user.path / "seeds" / "ferries.md").unlink()
    result = run(user)
    result.stdout.fnmatch_lines(["*note: evidence 'Ferries leave for Lundy Island*is in none of the documents"])
    result.stdout.fnmatch_lines(["citation_recall is 0.75; min_citation_recall wants at least 0.9: NOT met"])
    result.stdout.fnmatch_lines(["FAILED gold.jsonl::ferries*", "FAILED gold.jsonl::threshold:min_citation_recall*"])
    # the question and min_citation_recall; min_f1 (0.5) still holds, as the reader's exact spans
    # on the other questions keep the mean F1 above it
    result.assert_outcomes(passed=6, failed=2)


def test_a_baseline_names_what_got_worse(user: pytest.Pytester) -> None:
    run(user, "--rag-save-baseline", "baseline.json").assert_outcomes(passed=8)
    saved = json.loads((user.path / "baseline.json").read_text(encoding="utf-8"))
    assert saved["questions"]["ferries"]["passed"] is True
    (user.path / "seeds" / "ferries.md").unlink()
    result = run(user, "--rag-baseline", "baseline.json")
    result.stdout.fnmatch_lines(["*question(s) worse than the baseline:", "worse  ferries: passed, now fails: *"])
    result.stdout.fnmatch_lines(["*rag: changes since the baseline*", "*: 1 worse*", "FAILED gold.jsonl::baseline*"])


def test_fixtures_and_assertions_for_hand_written_tests(user: pytest.Pytester) -> None:
    user.makepyfile(
        test_answers="""
        from rag.eval.assertions import assert_abstains, assert_cites

        def test_lighthouse(rag_ask):
            assert_cites(rag_ask("When was the Fenwick lighthouse built?"), "built in 1872")

        def test_capital(rag_ask):
            assert_abstains(rag_ask("What is the capital of Australia?"))

        def test_wrong_quote(rag_ask):
            assert_cites(rag_ask("Who is the harbour master?"), "Captain Nemo")

        def test_one_engine(rag_service, rag_ask):
            assert rag_service is rag_service and len(rag_service.documents()) == 2
        """
    )
    result = user.runpytest("--rag-seeds", "seeds", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(["*no citation quotes 'Captain Nemo'*", "*[[]1] harbour[[]*:*] '*Tomas Brenner*'"])


def test_a_bad_gold_line_is_named(user: pytest.Pytester) -> None:
    lines = gold_lines().splitlines()
    lines[2] = lines[2].replace('"end": ', '"end": 1')  # the span is now longer than its text
    (user.path / "gold.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = run(user)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*gold.jsonl:3: evidence[[]0] spans * code points but its text has *"])


def test_an_unknown_threshold_is_a_usage_error(user: pytest.Pytester) -> None:
    result = run(user, "--rag-threshold", "min_happiness=0.5")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*unknown key(s) min_happiness*"])


def test_the_project_runs_without_the_plugin_options(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_plain="def test_nothing():\n    assert True\n")
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)


def test_rag_eval_cli_baseline_reports_regressions(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from rag.cli.main import main

    seeds = tmp_path / "seeds"
    for path in seeds.iterdir():
        path.unlink()
    (seeds / "harbour.md").write_text(HARBOUR, encoding="utf-8")
    (seeds / "ferries.md").write_text(FERRIES, encoding="utf-8")
    gold = tmp_path / "gold.jsonl"
    gold.write_text(gold_lines(), encoding="utf-8")
    import rag.cli.console as console

    original = console.create_embedder
    console.create_embedder = lambda *args, **kwargs: FakeEmbedder()  # type: ignore[assignment]
    try:
        runner = CliRunner()
        first = runner.invoke(main, ["eval", "--set", str(gold), "--save-baseline", str(tmp_path / "b.json")])
        assert first.exit_code == 0, first.output
        assert "citation_recall" in first.output and "┃" not in first.output and "─" not in first.output
        rows = [line for line in first.stdout.splitlines() if str(gold) not in line]  # titles hold the long path
        assert max(len(line) for line in rows) <= 80
        (seeds / "harbour.md").write_text(HARBOUR.replace("Tomas Brenner", "Ida Marsh"), encoding="utf-8")
        second = runner.invoke(main, ["eval", "--set", str(gold), "--baseline", str(tmp_path / "b.json")])
        assert second.exit_code == 1, second.output
        assert "worse  master: passed, now fails" in second.output
    finally:
        console.create_embedder = original
