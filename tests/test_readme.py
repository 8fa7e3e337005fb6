"""The README's generated examples (docs/readme_examples.py) agree with the code and the seeds.

Without the model: every JSON block has exactly the fields the API returns, and the cited
span is the seed text at its offsets, with the seed's current SHA-256. With the real model
(marked ``model``): the example question, asked again, gets the README's answer, confidence
and citations. Regenerate with ``python docs/readme_examples.py`` when either fails.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
from pathlib import Path
from typing import Any

import msgspec
import pytest

from rag.config import Settings
from rag.engine.service import QAService
from rag.records import Answer, Citation, DocumentInfo, Passage

ROOT = Path(__file__).resolve().parent.parent
SPEC = importlib.util.spec_from_file_location("readme_examples", ROOT / "docs" / "readme_examples.py")
assert SPEC is not None and SPEC.loader is not None
examples = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(examples)


def json_block(name: str) -> Any:
    body = examples.generated_block((ROOT / "README.md").read_text(encoding="utf-8"), name)
    return json.loads(body.strip().removeprefix("```json").removesuffix("```"))


def fields(struct: type[msgspec.Struct]) -> set[str]:
    return set(struct.__struct_fields__)


def test_the_ask_example_has_the_apis_fields_and_an_exact_citation() -> None:
    answer = json_block("ask-example")
    assert set(answer) == fields(Answer)
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


def test_the_first_run_figures_say_where_they_were_measured() -> None:
    body = examples.generated_block((ROOT / "README.md").read_text(encoding="utf-8"), "first-run")
    assert "Measured on" in body and "cores" in body and "load average" in body


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
