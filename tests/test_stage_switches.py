"""The reader's stage switches (`[answering] candidates`, `features_off`, `abstain`) and the
ablation report that turns each off in turn (`rag fit --ablations`)."""

from __future__ import annotations

import msgspec
import numpy as np

from rag.answering.features import FEATURE_GROUPS, FEATURES
from rag.answering.reader import Reader, Reading
from rag.config import CANDIDATE_SOURCES, FEATURE_GROUP_NAMES, load_settings
from rag.engine.service import QAService
from rag.eval.ablation import ABLATIONS, ablated, render
from rag.eval.fit import FitResult
from rag.eval.metrics import Outcome, Report, summarize

QUESTION = "What does Moscow insist Ukraine must do?"


def reader_with(service: QAService, **change: object) -> Reader:
    settings = msgspec.structs.replace(service.answerer.settings, **change)
    return Reader(service.data, service.answerer.lexical, settings, service.answerer.model)


def read(service: QAService, reader: Reader, question: str = QUESTION) -> Reading:
    vector = service.embed_question(question)
    return reader.read(question, vector, service.retriever.search(question, vector, 5))


def test_every_feature_is_in_exactly_one_group_named_in_the_settings() -> None:
    grouped = [name for group in FEATURE_GROUPS.values() for name in group]
    assert sorted(grouped) == sorted(FEATURES)
    assert tuple(FEATURE_GROUPS) == FEATURE_GROUP_NAMES


def test_switched_off_generators_propose_nothing(service: QAService) -> None:
    full = {p.kind for p in read(service, reader_with(service)).proposals}
    assert {"focus", "sentence"} <= full and full & {"entity", "object", "noun_phrase", "subject"}
    only_sentences = {p.kind for p in read(service, reader_with(service, candidates=[])).proposals}
    assert only_sentences == {"sentence"}
    no_focus = {p.kind for p in read(service, reader_with(service, candidates=["linguistic"])).proposals}
    assert "focus" not in no_focus and no_focus & {"entity", "object", "noun_phrase", "subject"}


def test_a_feature_group_switched_off_is_zero_and_the_others_are_kept(service: QAService) -> None:
    full = read(service, reader_with(service)).features
    off = read(service, reader_with(service, features_off=["dense"])).features
    dense = [FEATURES.index(name) for name in FEATURE_GROUPS["dense"]]
    assert np.abs(full[:, dense]).sum() > 0 and not off[:, dense].any()
    others = [i for i in range(len(FEATURES)) if i not in dense]
    assert np.array_equal(full[:, others], off[:, others])


def test_without_abstention_the_reader_always_answers(service: QAService) -> None:
    question = "What is the boiling point of mercury on Jupiter?"
    vector = service.embed_question(question)
    passages = service.retriever.search(question, vector, 5)
    refusing = msgspec.structs.replace(service.answerer.model, threshold=1.0)
    strict = Reader(service.data, service.answerer.lexical, service.answerer.settings, refusing)
    assert strict.answer(question, vector, passages).abstained
    lenient = reader_with(service, abstain=False)
    lenient.model = refusing
    extraction = lenient.answer(question, vector, passages)
    assert not extraction.abstained and extraction.citations and extraction.confidence < 1.0


def test_each_ablation_is_a_valid_setting_and_every_switch_is_ablated() -> None:
    settings = load_settings()
    changed = [ablated(settings, change).answering for _, change in ABLATIONS]
    assert changed[0] == settings.answering
    assert {s for a in changed for s in CANDIDATE_SOURCES if s not in a.candidates} == set(CANDIDATE_SOURCES)
    assert {g for a in changed for g in a.features_off} == set(FEATURE_GROUP_NAMES)
    assert any(not a.abstain for a in changed) and any(a.consensus_candidates == 10 for a in changed)


def test_the_ablation_table_has_a_row_per_reader_with_its_held_out_figures() -> None:
    answered = Outcome("a", "fact", True, "x", False, 0.9, 1, 0.0, 0.5, 0.0, 2, 2, 1, 2, 1, 1.0)
    refused = Outcome("u", "unanswerable", False, "", True, 0.1, None, 0.0, 0.0, 0.0, 0, 0, 0, 0, 0, 1.0)
    report = Report(outcomes=[answered, refused], summary=summarize([answered, refused]))
    result = FitResult(model=None, report=report, calibration={"auroc": 0.75})  # type: ignore[arg-type]
    table = render([("the full reader", result), ("no abstention", result)])
    lines = table.splitlines()
    assert lines[0].startswith("| reader | F1 | citation precision |") and sum(x.startswith("| ") for x in lines) == 3
    a, u = report.summary["answerable"], report.summary["unanswerable"]
    expected = [a["token_f1"], a["citation_precision"], a["citation_recall"], u["abstained_unanswerable"],
                a["abstained_answerable"], 0.75]  # fmt: skip
    assert f"| the full reader | {' | '.join(f'{v:.3f}' for v in expected)} |" in table
    assert a["token_f1"] == 0.5 and u["abstained_unanswerable"] == 1.0
    assert "2 questions" in table
