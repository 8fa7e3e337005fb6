"""The README's generated examples and figures agree with the code, the seeds and the reports.

Without the model: every JSON block has exactly the fields the API returns and the shape of a
real response from the app, and the cited span is the seed text at its offsets, with the seed's
current SHA-256; the performance and evaluation blocks are exactly what ``docs/readme_figures.py``
writes from the committed ``benchmarks/REPORT.md`` and ``eval/HELD_OUT.md``. With the real model
(marked ``model``): the example question, asked again, gets the README's answer, confidence
and citations. Regenerate with ``python docs/readme_examples.py`` (measured: the first run and
the JSON) or ``python docs/readme_figures.py`` (copied from the reports) when one fails.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import msgspec
import pytest
from litestar import Litestar
from litestar.testing import TestClient

from rag.config import Settings
from rag.engine.service import QAService
from rag.records import Answer, Citation, DocumentInfo, Passage

ROOT = Path(__file__).resolve().parent.parent


def script(name: str) -> ModuleType:
    """A script of docs/ as a module (docs/ is not a package: its scripts import each other by name)."""
    if str(ROOT / "docs") not in sys.path:
        sys.path.insert(0, str(ROOT / "docs"))
    spec = importlib.util.spec_from_file_location(name, ROOT / "docs" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


examples = script("readme_examples")
figures = script("readme_figures")
gold_run = script("readme_gold_run")
README = (ROOT / "README.md").read_text(encoding="utf-8")


def json_block(name: str) -> Any:
    body = examples.generated_block(README, name)
    return json.loads(body.strip().removeprefix("```json").removesuffix("```"))


def shape(value: Any) -> Any:
    """A JSON value's structure: objects by key, lists by their first item, scalars by type
    (an integer and a float count as one type: a score may be 1.0 or 1)."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    if isinstance(value, bool) or value is None:
        return type(value).__name__
    return "number" if isinstance(value, int | float) else type(value).__name__


def fields(struct: type[msgspec.Struct]) -> set[str]:
    return set(struct.__struct_fields__)


def test_the_ask_example_has_the_apis_fields_and_an_exact_citation() -> None:
    answer = json_block("ask-example")
    assert set(answer) == fields(Answer) - {"explain"}  # explain comes only when asked for
    assert answer["question"] == examples.QUESTION
    for passage in answer["passages"]:
        assert set(passage) == fields(Passage)
    assert answer["citations"]
    for citation in answer["citations"]:
        assert set(citation) == fields(Citation)
        seed = (ROOT / "seeds" / f"{citation['doc_id']}.txt").read_bytes()
        assert citation["doc_sha256"] == hashlib.sha256(seed).hexdigest()
        assert seed.decode("utf-8")[citation["start"] : citation["end"]] == citation["quote"]
        assert answer["answer"][citation["answer_start"] : citation["answer_end"]] in citation["quote"]


def test_the_documents_example_has_the_apis_fields() -> None:
    (document,) = json_block("documents-example")
    assert set(document) == fields(DocumentInfo)
    text = (ROOT / document["path"]).read_bytes()
    assert document["chars"] == len(text.decode("utf-8")) and document["sha256"] == hashlib.sha256(text).hexdigest()


def test_the_json_examples_have_the_shape_of_real_responses(read_only_client: TestClient[Litestar]) -> None:
    """Asked of the app (over the seeds, with the test suite's stand-in embedder), the README's
    requests answer JSON of the README's shape: the same keys at every level, the same types."""
    answer = read_only_client.post("/ask", json={"question": examples.QUESTION})
    assert answer.status_code == 200
    real = answer.json()
    assert real["citations"] and real["passages"], "the stand-in should answer the example question"
    assert shape(real) == shape(json_block("ask-example"))
    listed = read_only_client.get("/documents")
    assert listed.status_code == 200
    assert shape(listed.json()[:1]) == shape(json_block("documents-example"))


def test_the_first_run_figures_say_where_they_were_measured() -> None:
    body = examples.generated_block(README, "first-run")
    assert "Measured on" in body and "cores" in body and "load average" in body


@pytest.mark.parametrize("name", ["performance", "held-out"])
def test_the_report_figures_are_copied_from_the_committed_reports(name: str) -> None:
    """The README's performance and evaluation figures are what docs/readme_figures.py writes
    from benchmarks/REPORT.md and eval/HELD_OUT.md as committed: a rerun of either report, or a
    hand edit of a figure, fails here until the README is regenerated."""
    assert examples.generated_block(README, name) == figures.blocks()[name]


def test_every_performance_figure_says_its_machine_and_load() -> None:
    """Each line of figures names the machine and the load average it was measured at (the
    table's rows: the line above the table)."""
    lines = [line for line in examples.generated_block(README, "performance").splitlines() if line]
    figures_lines = [line for line in lines if not line.startswith("|") and re.search(r"\d (ms|s|MB)\b", line)]
    assert len(figures_lines) >= 4 and lines[1].startswith("|")
    for line in [lines[0], *figures_lines]:
        assert "cores" in line and "load average at start" in line, line


def section(title: str) -> str:
    return README.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]


def test_the_performance_section_has_no_figure_outside_the_generated_block() -> None:
    """Figures typed by hand drift from the report; the section's prose may only point to them."""
    prose = figures.block_free(section("Performance"))
    assert not re.findall(r"\d+(?:[.,]\d+)?\s*(?:ms|s|MB|GB|%|req/s)\b|\d\.\d", prose), prose


@pytest.mark.parametrize("title", ["Evaluation", "Scaling out"])
def test_measured_figures_appear_only_in_generated_blocks(title: str) -> None:
    """Scores (0.331, .614), timings, sizes and percentages in these sections come from a
    generated block; development notes with figures live in eval/EXPERIMENTS.md and
    benchmarks/README.md, which the prose names."""
    from rag.http.plugin import FOLLOW_INTERVAL_S

    # A design constant is not a measurement: the follow interval is quoted from the code.
    prose = figures.block_free(section(title)).replace(f"every {FOLLOW_INTERVAL_S:g} s", "every interval")
    prose = prose.replace(f"the {FOLLOW_INTERVAL_S:g} s poll", "the poll")
    pattern = r"(?<![\w.])0?\.\d{2,}\b|(?<![\w.])\d+(?:\.\d+)?\s*(?:ms|s|MB|GB|%|req/s)\b"
    assert not re.findall(pattern, prose), re.findall(pattern, prose)


@pytest.mark.model
def test_the_ask_example_is_what_the_service_answers(settings: Settings) -> None:
    """The seeds and model of this checkout give the README's answer: the service as configured
    (the default embedding backend, as `rag serve` runs it), not a stand-in."""
    shown = json_block("ask-example")
    fresh = msgspec.to_builtins(QAService.open(settings).ask(examples.QUESTION))
    assert fresh["answer"] == shown["answer"] and fresh["abstained"] == shown["abstained"]
    assert round(fresh["confidence"], 2) == round(shown["confidence"], 2)
    spans = [(c["doc_id"], c["start"], c["end"]) for c in fresh["citations"]]
    assert spans == [(c["doc_id"], c["start"], c["end"]) for c in shown["citations"]]


def test_the_limits_table_gives_the_settings_defaults() -> None:
    """Each row of "Limits and timeouts" that names a setting shows that setting's default."""
    section = README.split("\n## Limits and timeouts\n", 1)[1].split("\n## ", 1)[0]
    units = {"KiB": 1024, "MiB": 1024**2, "million": 10**6}
    defaults = Settings()
    checked = 0
    for line in section.splitlines()[3:]:
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        setting = re.fullmatch(r"`\[(\w+)\] (\w+)`", cells[-1]) if len(cells) == 3 else None
        number = re.match(r"([\d,]+(?:\.\d+)?)\s*(KiB|MiB|million)?", cells[1]) if setting else None
        if setting is None or number is None:
            continue
        shown = float(number.group(1).replace(",", "")) * units.get(number.group(2) or "", 1)
        assert shown == getattr(getattr(defaults, setting.group(1)), setting.group(2)), line
        checked += 1
    assert checked >= 8


def test_the_plugin_sample_run_speaks_the_plugins_messages() -> None:
    """The sample run is made by docs/readme_gold_run.py; its questions are the script's, and its
    failure messages are the ones rag.eval writes (a reworded message fails here until rerun)."""
    block = examples.generated_block(README, "gold-run")
    assert {m for m in re.findall(r"gold question (d\d+)", block)} <= set(gold_run.QUESTIONS)
    sources = "".join(path.read_text(encoding="utf-8") for path in (ROOT / "rag" / "eval").glob("*.py"))
    for message in re.findall(r"missed: (token F1|no citation overlaps the gold evidence)", block):
        assert message in sources
    assert "is below" in sources and "passed, now fails: " in sources and "changes since the baseline" in sources
    assert gold_run.REWORDED in block
