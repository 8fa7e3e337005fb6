"""The sentence ranker: a scan of every sentence in small corpora, the candidates' sentences above
``[index] exact_below``, so its cost does not grow with the corpus; and the row grouping the
reader looks sentences' clauses and candidates up with."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rag.answering.candidates import RowsByKey
from rag.engine.service import QAService
from rag.retrieval.filters import SearchFilter
from tests.conftest import tuned

QUESTIONS = ["Who met in Geneva?", "What would Ukraine give up?", "security guarantees", "ceasefire line"]


def bounded(service: QAService, **retrieval: object) -> QAService:
    """The same index served as if it were larger than ``exact_below`` sentences."""
    settings = tuned(service.settings, index={"exact_below": 0}, retrieval=retrieval)
    return QAService(settings, service.embedder, service.data)


def test_a_small_corpus_scans_every_sentence_and_a_large_one_only_the_candidates(service: QAService) -> None:
    assert service.retriever.scan_every_sentence
    assert not bounded(service).retriever.scan_every_sentence


@pytest.mark.parametrize("question", QUESTIONS)
def test_with_every_chunk_a_candidate_both_rankings_agree(service: QAService, question: str) -> None:
    chunks = len(service.data.chunks)
    full = QAService(tuned(service.settings, retrieval={"candidates": chunks}), service.embedder, service.data)
    part = bounded(service, candidates=chunks)
    vector = service.embed_question(question)
    scanned = full.retriever.sentence_ranking(vector, chunks)
    of_candidates = part.retriever.sentence_ranking_of(vector, chunks, [c.chunk_id for c in service.data.chunks])
    # The scan looks at the best 4 x n sentences, so it may rank fewer chunks: the same ones first.
    assert len(scanned) >= 5 and list(scanned) == list(of_candidates)[: len(scanned)]
    assert np.allclose(list(scanned.values()), list(of_candidates.values())[: len(scanned)], atol=1e-6)
    assert [p.chunk_id for p in full.search(question, 5)] == [p.chunk_id for p in part.search(question, 5)]


@pytest.mark.parametrize("question", QUESTIONS)
def test_the_bounded_ranking_scores_only_the_other_rankers_candidates(service: QAService, question: str) -> None:
    part = bounded(service, candidates=3)
    vector = service.embed_question(question)
    candidates = [*part.retriever.dense_ranking(vector, 3), *part.retriever.bm25_ranking(question, 3)]
    ranking = part.retriever.sentence_ranking_of(vector, 3, candidates)
    assert set(ranking) <= set(candidates) and len(ranking) <= 3
    for chunk_id, score in ranking.items():
        sentences = service.data.sentence_vectors[list(part.retriever.chunks[chunk_id].sentence_ids)]
        assert score == pytest.approx(float((sentences @ vector).max()), abs=1e-6)
    passages = part.search(question, 5)
    assert {p.chunk_id for p in passages} <= set(candidates)  # nothing but candidates can be fused


def test_a_filtered_bounded_search_stays_inside_its_documents(service: QAService) -> None:
    doc_id = next(iter(service.data.documents))
    passages = bounded(service).search("Who met in Geneva?", 5, SearchFilter(doc_ids=[doc_id]))
    assert passages and {p.doc_id for p in passages} == {doc_id}


@settings(max_examples=80, deadline=None)
@given(keys=st.lists(st.integers(min_value=0, max_value=30), max_size=200))
def test_rows_by_key_are_the_rows_of_each_key_in_table_order(keys: list[int]) -> None:
    grouped = RowsByKey(keys, 31)
    for key in range(31):
        assert grouped.rows(key) == [row for row, k in enumerate(keys) if k == key]
