"""The gold format: one schema (docs/gold.schema.json, generated), errors naming the line, POST /gold."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import msgspec
import pytest
from litestar import Litestar
from litestar.testing import TestClient

from rag.config import Settings
from rag.eval.gold import GoldFileError, gold_schema_text, read_gold
from tests.conftest import SEED, tuned

ROOT = Path(__file__).resolve().parent.parent
KEY = "g" * 20
DOC = "us-ukraine-russia-negotiations"
Client = Callable[..., TestClient[Litestar]]


def test_the_documented_schema_is_the_loaders() -> None:
    written = (ROOT / "docs" / "gold.schema.json").read_text(encoding="utf-8")
    assert written == gold_schema_text(), "regenerate: python -m rag.eval.gold > docs/gold.schema.json"


def test_the_projects_gold_sets_load() -> None:
    assert len(read_gold(ROOT / "eval" / "dev.jsonl")) > 0 and len(read_gold(ROOT / "eval" / "own.jsonl")) > 0


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "gold.jsonl:2: not valid JSON"),
        (
            '{"id": "x", "question": "q", "answers": [], "evidence": []}',
            "gold.jsonl:2: Object missing required field `kind`",
        ),
        ('{"id": "x", "question": "q", "answers": [], "evidence": [], "kind": "fact"}', "needs at least one answer"),
        ('{"id": "x", "question": "q", "answers": ["a"], "evidence": [], "kind": "unanswerable"}', "has no answers"),
        (
            '{"id": "x", "question": "q", "answers": ["a"], "kind": "fact", '
            '"evidence": [{"start": 0, "end": 2, "text": "🚀"}]}',
            "spans 2 code points but its text has 1",
        ),
        ('{"id": "a", "question": "q", "answers": ["a"], "evidence": [], "kind": "fact"}', "already used on line 1"),
        ('{"id": "x", "question": "q", "answers": ["a"], "evidence": [], "kind": "fact", "extra": 1}', "unknown field"),
    ],
)
def test_a_bad_line_is_named_with_what_is_wrong(tmp_path: Path, line: str, message: str) -> None:
    good = '{"id": "a", "question": "q", "answers": ["a"], "evidence": [], "kind": "fact"}'
    path = tmp_path / "gold.jsonl"
    path.write_text(good + "\n" + line + "\n", encoding="utf-8")
    with pytest.raises(GoldFileError, match=r"gold\.jsonl:2") as error:
        read_gold(path)
    assert message.lower() in str(error.value).lower()


def _line(start: int, end: int, qid: str = "q1") -> dict[str, object]:
    text = SEED.read_text(encoding="utf-8")[start:end]
    evidence = [{"start": start, "end": end, "text": text, "doc_id": "us-ukraine-russia-negotiations"}]
    return {"id": qid, "question": "Who is negotiating?", "answers": [text], "evidence": evidence, "kind": "fact"}


def test_post_gold_needs_the_key_and_appends_checked_lines(make_client: Client, settings: Settings) -> None:
    closed = make_client()
    refused = closed.post("/gold", json=_line(134, 227))
    assert refused.status_code == 403 and "RAG_SECURITY__API_KEY" in refused.json()["detail"]

    client = make_client(tuned(settings, security={"api_key": KEY}, rate_limit={"enabled": False}))
    headers = {"X-API-Key": KEY}
    first = client.post("/gold", json=_line(134, 227), headers=headers)
    assert first.status_code == 201, first.text
    assert first.json()["line"] == 1
    assert client.post("/gold", json=_line(134, 227), headers=headers).status_code == 409  # the id is taken
    shifted = {**_line(134, 227, "q2"), "evidence": [{**_line(135, 228)["evidence"][0], "text": "wrong"}]}  # type: ignore[dict-item]
    bad = client.post("/gold", json=shifted, headers=headers)
    assert bad.status_code == 409 and "code points" in bad.json()["detail"]  # the document reads otherwise there
    assert client.post("/gold", json=_line(300, 340, "q2"), headers=headers).json()["line"] == 2
    lines = Path(settings.paths.gold).read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["id"] for line in lines] == ["q1", "q2"]
    assert read_gold(Path(settings.paths.gold))[0].evidence[0].start == 134


@pytest.mark.parametrize(
    ("change", "status", "detail"),
    [
        ({"id": ""}, 400, "id"),
        ({"id": " \u3000"}, 400, "id"),  # blank: what the gold file refuses too
        ({"question": "\t"}, 400, "question"),
        ({"answers": []}, 400, "Expected at least one answer for kind 'fact'"),
        ({"kind": "unanswerable"}, 400, "answers Expected an empty array for kind 'unanswerable'; evidence"),
        ({"kind": "unanswerable", "answers": []}, 400, "evidence"),
        ({"evidence": [{"start": -1, "end": 3, "text": "abcd"}]}, 400, "start"),
        ({"evidence": [{"start": 0, "end": 3, "text": "abc"}]}, 400, "doc_id"),  # a posted line names its document
        ({"evidence": [{"start": 0, "end": 3, "text": "abc", "doc_id": "nope"}]}, 404, "names no known document"),
        ({"evidence": [{"start": 9, "end": 3, "text": "abc", "doc_id": DOC}]}, 404, "no span [9, 3)"),
        ({"evidence": [{"start": 0, "end": 10**6, "text": "abc", "doc_id": DOC}]}, 404, "end must be <= 10000"),
        ({"evidence": [{"start": 0, "end": 3, "text": "abc", "doc_id": DOC}]}, 409, "the document reads"),
    ],
)
def test_post_gold_refuses_what_its_schema_states_with_400_and_missing_or_other_spans_with_404_or_409(
    make_client: Client, settings: Settings, change: dict[str, object], status: int, detail: str
) -> None:
    """The schema states a gold line's rules (a blank id or question, answers and evidence by
    kind): breaking one is the 400 of any schema violation. A span that does not exist is 404,
    as ``/documents/{id}/spans`` says; a span whose text the document does not hold there is 409."""
    client = make_client(tuned(settings, security={"api_key": KEY}, rate_limit={"enabled": False}))
    response = client.post("/gold", json={**_line(134, 227), **change}, headers={"X-API-Key": KEY})
    assert response.status_code == status, response.text
    assert detail in response.json()["detail"]
    assert not Path(settings.paths.gold).exists()  # nothing was appended


def test_the_gold_schema_states_the_rule_on_kind(make_client: Client, settings: Settings) -> None:
    schema = make_client(settings).get("/schema/openapi.json").json()["components"]["schemas"]["GoldQuestion"]
    assert schema["if"] == {"required": ["kind"], "properties": {"kind": {"const": "unanswerable"}}}
    assert schema["then"]["properties"] == {"answers": {"maxItems": 0}, "evidence": {"maxItems": 0}}
    assert schema["else"]["properties"] == {"answers": {"minItems": 1}}
    assert schema["properties"]["id"]["minLength"] == 1 and schema["properties"]["min_f1"]["minimum"] == 0.0


def test_a_gold_set_listing_a_file_twice_is_refused(tmp_path: Path, settings: Settings) -> None:
    from click.testing import CliRunner

    from rag.cli.main import main
    from rag.eval.fit import load_sets

    sets = tmp_path / "sets.toml"
    listing = '[[set]]\nname = "s"\nseeds = "seeds"\ngold = ["a.jsonl", "b.jsonl", "a.jsonl"]\n'
    sets.write_text(listing, encoding="utf-8")
    with pytest.raises(ValueError, match=r"lists a\.jsonl more than once"):
        load_sets(sets)
    result = CliRunner().invoke(main, ["fit", "--sets", str(sets), "--out", str(tmp_path / "model.json")])
    assert result.exit_code == 1 and "lists a.jsonl more than once" in result.output, result.output
    assert not (tmp_path / "model.json").exists()
    assert [s.name for s in load_sets(ROOT / "eval" / "sets.toml")] == ["article", "corpus"]


def test_rag_fit_writes_every_held_out_outcome(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from rag.answering.model import load_model
    from rag.cli import fitting
    from rag.cli.main import main
    from rag.eval.fit import FitResult
    from rag.eval.metrics import Outcome, Report

    outcome = Outcome(id="q1", kind="fact", answerable=True, answer="in 1998", abstained=False, confidence=0.7,
                      first_hit=1, em=1.0, f1=1.0, contained=1.0, citations=1, valid_citations=1,
                      precise_citations=1, evidence=1, covered_evidence=1, latency_ms=3.0, doc="a.md")  # fmt: skip
    report = Report(outcomes=[outcome], summary={"all": {"questions": 1.0, "token_f1": 1.0}})
    result = FitResult(load_model(), report, {"auroc": 0.9, "ece": 0.02})
    monkeypatch.setattr(fitting, "fit_and_hold_out", lambda *args, **kwargs: result)
    written = tmp_path / "outcomes.json"
    args = ["fit", "--out", str(tmp_path / "model.json"), "--outcomes", str(written)]
    run = CliRunner().invoke(main, args)
    assert run.exit_code == 0, run.output
    assert msgspec.json.decode(written.read_bytes(), type=Report) == report
