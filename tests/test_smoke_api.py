"""A first end-to-end check of the HTTP API over the fake embedder."""

from __future__ import annotations

from litestar.testing import TestClient

from rag.config import Settings
from rag.engine.service import QAService
from rag.http.app import create_app
from tests.conftest import FakeEmbedder


def test_ask_returns_verifiable_citations(settings: Settings) -> None:
    app = create_app(settings, service_factory=lambda s: QAService.open(s, embedder=FakeEmbedder()))
    with TestClient(app=app) as client:
        body = client.post("/ask", json={"question": "What does Moscow insist Ukraine must do?"}).json()
        assert not body["abstained"], body
        assert body["citations"]
        for citation in body["citations"]:
            span = client.get(
                f"/documents/{citation['doc_id']}/spans", params={"start": citation["start"], "end": citation["end"]}
            ).json()
            assert span["text"] == citation["quote"]
