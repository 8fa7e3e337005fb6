"""The shipped span head: made into an int8 ONNX file that agrees with torch, and used by the service."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.answering.span_export import PACKAGED_WEIGHTS
from rag.answering.span_model import ensure_span_head, span_head
from rag.config import Settings
from rag.engine.service import QAService
from tests.conftest import tuned

pytestmark = pytest.mark.model


def test_the_shipped_weights_make_a_checked_int8_file_once(tmp_path: Path) -> None:
    head = ensure_span_head(tmp_path, PACKAGED_WEIGHTS)  # exports and checks the logits on the probes
    made = sorted(tmp_path.glob("span-head-*-int8.onnx"))
    assert len(made) == 1 and made[0].with_name(made[0].name + ".json").exists()
    stamp = made[0].stat().st_mtime_ns
    ensure_span_head(tmp_path, PACKAGED_WEIGHTS)
    assert made[0].stat().st_mtime_ns == stamp  # verified and reused, not made again
    span = head.best("Who founded the company?", ["The company was founded in 1998 by Ada Lovelace in London."])
    assert span is not None and "Lovelace" in "The company was founded in 1998 by Ada Lovelace in London."[
        span.start : span.end
    ]


def test_the_service_answers_with_the_heads_vote_and_exact_citations(settings: Settings, real_embedder: object) -> None:
    with_head = tuned(settings, answering={"span_head_sentences": 3})
    service = QAService.open(with_head, embedder=real_embedder)  # type: ignore[arg-type]
    assert service.answerer.span_head is span_head(with_head)  # one head per process and weights file
    question = "What does Moscow insist Ukraine must do?"
    answer = service.ask(question)
    assert not answer.abstained and answer.citations
    for citation in answer.citations:
        text = service.data.documents[citation.doc_id].text
        assert text[citation.start : citation.end] == citation.quote
    assert answer.answer in answer.citations[0].quote
    first = service.ask(question, explain=True).explain[0]  # the trace shows the head's choice first
    assert first.text == answer.answer and {"reader_logit", "head_vote", "head_sentence_margin"} <= set(first.features)


def test_a_question_as_long_as_the_api_allows_is_answered(settings: Settings, real_embedder: object) -> None:
    # about 250 word pieces, more than the head reads at once; the head used to raise on it
    with_head = tuned(settings, answering={"span_head_sentences": 3})
    service = QAService.open(with_head, embedder=real_embedder)  # type: ignore[arg-type]
    question = ("What did the United States and Ukraine recently agree on, " + ", ".join(
        ["regarding the reshaped negotiation framework and the earlier heavily criticized proposal"] * 14) + "?")
    assert len(question) <= with_head.answering.max_question_chars
    answer = service.ask(question)
    for citation in answer.citations:
        assert service.data.documents[citation.doc_id].text[citation.start : citation.end] == citation.quote
