"""The abstention rule that reads the span head's margin: in the reader, and as ``rag fit`` stacks it."""

from __future__ import annotations

from typing import Any

import msgspec
import numpy as np
import pytest

from rag.answering.abstention import HEAD_ABSTENTION_FEATURES, best_head_confidence, head_confidence
from rag.answering.model import HeadAbstention, LinearModel
from rag.answering.span import MAX_MARGIN, best_sentences
from rag.engine.service import QAService
from rag.eval.head_abstention import stacked_confidence, with_stacked_rules
from tests.test_span_head import ScriptedHead

QUESTION = "Who is the U.S. special envoy?"


def rule(abstention: float, margin: float, intercept: float, threshold: float = 0.5) -> HeadAbstention:
    weights = LinearModel(list(HEAD_ABSTENTION_FEATURES), [0.0, 0.0], [1.0, 1.0], [abstention, margin], intercept)
    return HeadAbstention(weights, threshold)


def ask(service: QAService, head: ScriptedHead, with_head: HeadAbstention) -> Any:
    reader = service.answerer
    reader.model = msgspec.structs.replace(reader.model, with_head=with_head)
    reader.span_head, reader.head_sentences = head, 1
    vector = service.embed_question(QUESTION)
    return reader.answer(QUESTION, vector, service.retriever.search(QUESTION, vector, 5))


def a_word_of_the_best_sentence(service: QAService) -> str:
    reader = service.answerer
    vector = service.embed_question(QUESTION)
    reading = reader.read(QUESTION, vector, service.retriever.search(QUESTION, vector, 5))
    (best,) = best_sentences(reading.proposals, reader.scores(reading), 1)
    return max(best.sentence.text.split(), key=len).strip(",.;:()")


def test_the_heads_margin_decides_between_answering_and_refusing(service: QAService) -> None:
    margin_only = rule(0.0, 1.0, -3.0)  # confidence = sigmoid(margin - 3)
    wanted = a_word_of_the_best_sentence(service)
    found = ask(service, ScriptedHead(wanted), margin_only)  # the head's span scores 10, "no answer" 2
    margin = min(8.0, MAX_MARGIN)  # capped
    assert not found.abstained and found.confidence == pytest.approx(1 / (1 + np.exp(3.0 - margin)), abs=1e-4)
    assert found.signals["head_margin"] == pytest.approx(margin) and found.answer
    missing = ask(service, ScriptedHead("no such words here"), margin_only)  # best span 0 against 2
    assert missing.abstained and missing.answer == "" and missing.citations == []
    assert missing.confidence == pytest.approx(1 / (1 + np.exp(5.0)), abs=1e-4)


def test_a_question_no_margin_could_save_is_refused_without_running_the_head(service: QAService) -> None:
    calls: list[str] = []

    class Counting(ScriptedHead):
        def logits(self, question: str, context: str) -> tuple[Any, np.ndarray[Any, Any], np.ndarray[Any, Any]]:
            calls.append(context)
            return super().logits(question, context)

    hopeless = rule(0.0, 1.0, -3.0 - MAX_MARGIN - 1.0)  # even the largest margin leaves it below 0.5
    refused = ask(service, Counting(a_word_of_the_best_sentence(service)), hopeless)
    assert refused.abstained and calls == []
    assert refused.confidence == pytest.approx(best_head_confidence(hopeless, 0.0, MAX_MARGIN), abs=1e-4)
    assert best_head_confidence(hopeless, 0.0, MAX_MARGIN) == head_confidence(hopeless, 0.0, MAX_MARGIN)


def test_with_refusals_off_a_question_no_margin_could_save_is_still_read_by_the_head(service: QAService) -> None:
    service.answerer.settings = msgspec.structs.replace(service.answerer.settings, abstain=False)
    wanted = a_word_of_the_best_sentence(service)
    found = ask(service, ScriptedHead(wanted), rule(0.0, 1.0, -3.0 - MAX_MARGIN - 1.0))
    assert not found.abstained and found.answer and found.confidence < 0.5
    assert found.signals["head_margin"] == pytest.approx(min(8.0, MAX_MARGIN))  # the head read the sentence


def test_a_margin_beyond_the_bound_is_clipped_so_the_unread_refusal_stays_exact(service: QAService) -> None:
    class Emphatic(ScriptedHead):  # its span scores 100 against "no answer" 2
        def logits(self, question: str, context: str) -> tuple[Any, np.ndarray[Any, Any], np.ndarray[Any, Any]]:
            encoding, start, end = super().logits(question, context)
            return encoding, np.where(start > 1.0, 50.0, start), np.where(end > 1.0, 50.0, end)

    found = ask(service, Emphatic(a_word_of_the_best_sentence(service)), rule(0.0, 1.0, -3.0))
    assert found.signals["head_margin"] == pytest.approx(MAX_MARGIN)
    assert found.confidence == pytest.approx(best_head_confidence(rule(0.0, 1.0, -3.0), 0.0, MAX_MARGIN), abs=1e-4)


def test_the_refusal_bound_holds_for_a_rule_that_trusts_low_margins() -> None:
    inverted = rule(0.0, -1.0, 0.0)  # confidence = sigmoid(-margin): no cap below, so never refused unread
    assert best_head_confidence(inverted, 0.0, MAX_MARGIN) == pytest.approx(1.0, abs=1e-6)
    trusting = rule(0.0, 1.0, -3.0)  # the usual sign: the highest confidence is at the cap
    assert best_head_confidence(trusting, 0.0, MAX_MARGIN) == head_confidence(trusting, 0.0, MAX_MARGIN)


def test_the_stacked_rule_learns_the_margin_and_is_held_out_by_document() -> None:
    rng = np.random.default_rng(0)
    groups = [f"doc{i % 6}" for i in range(600)]
    y = rng.integers(0, 2, 600)
    margin = np.where(y == 1, 3.0, -3.0) + rng.normal(0, 2.0, 600)  # the margin separates; the logit does not
    x = np.c_[rng.normal(0, 1.0, 600), margin]
    models = {g: _neutral_model() for g in set(groups)}
    final, held_out = with_stacked_rules(_neutral_model(), models, groups, x, y.astype(np.int64), 0.07)
    assert final.with_head is not None and final.with_head.model.coef[1] > 1.0
    confidence = stacked_confidence(held_out, groups, x)
    refused = confidence < np.array([held_out[g].with_head.threshold for g in groups])  # type: ignore[union-attr]
    assert refused[y == 1].mean() <= 0.12 and refused[y == 0].mean() > 0.7
    # each document's confidence comes from the rule fitted without its rows
    first = held_out["doc0"].with_head
    assert first is not None and first != final.with_head
    assert confidence[0] == pytest.approx(head_confidence(first, x[0, 0], x[0, 1]))


def _neutral_model() -> Any:
    from rag.answering.reader import neutral_model

    return neutral_model()
