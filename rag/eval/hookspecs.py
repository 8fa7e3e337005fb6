"""Hooks the rag pytest plugin calls; implement them in a ``conftest.py``."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from rag.config import Settings
    from rag.embedding.base import Embedder


@pytest.hookspec(firstresult=True)
def pytest_rag_embedder(config: pytest.Config, settings: Settings) -> Embedder | None:
    """The embedder the session's engine uses (None: the configured model).

    Tests of the plugin return a fast fake here; a team might return a shared, already
    loaded model. The index built over the seeds uses the same embedder as the questions.
    """
    raise NotImplementedError  # a specification: pluggy never calls this body
