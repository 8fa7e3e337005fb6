"""The answer cache: a repeated question is answered without embedding, retrieval or reading,
with the same answer a miss computes; anything that could change the answer misses."""

from __future__ import annotations

from collections.abc import Sequence

import msgspec
import pytest

from rag.caching import LruCache
from rag.config import Settings
from rag.embedding.base import Vectors
from rag.engine.service import QAService
from rag.retrieval.filters import SearchFilter
from tests.fake_embedder import FakeEmbedder

QUESTION = "What does Moscow insist Ukraine must do?"


class CountingEmbedder(FakeEmbedder):
    def __init__(self) -> None:
        self.calls = 0

    def embed(self, texts: Sequence[str]) -> Vectors:
        self.calls += 1
        return super().embed(texts)


def open_counting(settings: Settings, answer_cache_size: int = 1024) -> tuple[QAService, CountingEmbedder]:
    answering = msgspec.structs.replace(settings.answering, answer_cache_size=answer_cache_size)
    embedding = msgspec.structs.replace(settings.embedding, query_cache_size=0)  # every miss embeds
    embedder = CountingEmbedder()
    service = QAService.open(msgspec.structs.replace(settings, answering=answering, embedding=embedding), embedder)
    embedder.calls = 0
    return service, embedder


def test_a_repeated_question_is_answered_from_the_cache_with_the_same_answer(settings: Settings) -> None:
    service, embedder = open_counting(settings)
    first = service.ask(QUESTION)
    again = service.ask(QUESTION)
    assert embedder.calls == 1
    assert set(first.timings_ms) == {"embed", "retrieve", "answer", "total"}
    assert set(again.timings_ms) == {"cache", "total"}
    assert msgspec.structs.replace(again, timings_ms={}) == msgspec.structs.replace(first, timings_ms={})


@pytest.mark.parametrize(
    "options",
    [{"top_k": 2}, {"explain": True}, {"filters": SearchFilter(collection="elsewhere")}],
    ids=["top_k", "explain", "filters"],
)
def test_other_options_are_other_answers(settings: Settings, options: dict[str, object]) -> None:
    service, embedder = open_counting(settings)
    plain = service.ask(QUESTION)
    other = service.ask(QUESTION, **options)  # type: ignore[arg-type]
    assert embedder.calls == 2 and "cache" not in other.timings_ms
    assert other != plain


def test_only_the_exact_question_hits(settings: Settings) -> None:
    service, embedder = open_counting(settings)
    service.ask(QUESTION)
    service.ask(QUESTION.lower())
    assert embedder.calls == 2


def test_size_zero_turns_the_cache_off(settings: Settings) -> None:
    service, embedder = open_counting(settings, answer_cache_size=0)
    for _ in range(3):
        assert "cache" not in service.ask(QUESTION).timings_ms
    assert embedder.calls == 3


def test_the_cache_drops_the_least_recently_used_first() -> None:
    cache: LruCache[str] = LruCache(2)
    cache.put("a", "A")
    cache.put("b", "B")
    assert cache.get("a") == "A"  # a is now the most recent
    cache.put("c", "C")
    assert cache.get("b") is None and cache.get("a") == "A" and cache.get("c") == "C" and len(cache) == 2
    assert (cache.hits, cache.misses) == (3, 1)
