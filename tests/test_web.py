"""The web page's server side: pages, headers, the span page, escaping, the schema."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from rag.config import Settings
from rag.http.web import UI_DIR
from tests.conftest import tuned

ASTRAL = "Intro 🚀🚀 𝔸 done.\nThe ferry leaves at noon from pier 4.\n"
DOC = "us-ukraine-russia-negotiations"


@pytest.fixture
def astral_client(make_client: Callable[..., TestClient[Litestar]], tmp_path: Path) -> TestClient[Litestar]:
    (tmp_path / "seeds" / "astral.txt").write_text(ASTRAL, encoding="utf-8")
    (tmp_path / "seeds" / "markup.md").write_text("# <b>Bold</b> & co\n\n<script>alert(1)</script>\n", "utf-8")
    return make_client()


def _mark(page: str) -> str:
    found = re.search(r'<mark id="span"[^>]*>(.*?)</mark>', page, re.S)
    assert found, page[:500]
    return html.unescape(found.group(1))


def test_pages_are_html_with_a_strict_policy(client: TestClient[Litestar]) -> None:
    for path in ("/", "/ui/documents", f"/ui/documents/{DOC}"):
        response = client.get(path)
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
        policy = response.headers["content-security-policy"]
        assert "script-src 'self'" in policy and "unsafe-inline" not in policy
        assert response.headers["x-content-type-options"] == "nosniff"
        assert '<html lang="en">' in response.text and 'href="#main"' in response.text
        assert "<script>" not in response.text.replace('<script src="/static/app.js" defer></script>', "")
    home = client.get("/").text
    assert '<label for="question">' in home and 'aria-live="polite"' in home


def test_static_files_are_package_data(client: TestClient[Litestar]) -> None:
    script = client.get("/static/app.js")
    assert script.status_code == 200 and "utf16Offsets" in script.text
    assert client.get("/static/style.css").status_code == 200
    assert client.get("/static/missing.js").status_code == 404
    assert (UI_DIR / "templates" / "base.html").exists()
    pyproject = (Path(__file__).resolve().parent.parent / "pyproject.toml").read_text(encoding="utf-8")
    assert '"http/ui/templates/*.html", "http/ui/static/*"' in pyproject


def test_html_routes_stay_out_of_the_schema(client: TestClient[Litestar]) -> None:
    paths = set(client.get("/schema/openapi.json").json()["paths"])
    assert not {p for p in paths if p == "/" or p.startswith(("/ui", "/static", "/metrics"))}
    assert {"/ask", "/documents", "/documents/{doc_id}/spans"} <= paths


def test_the_span_page_highlights_code_point_offsets(astral_client: TestClient[Litestar]) -> None:
    start = ASTRAL.index("The ferry")
    end = ASTRAL.index("pier 4.") + len("pier 4.")
    page = astral_client.get(f"/ui/documents/astral?start={start}&end={end}")
    assert page.status_code == 200
    assert _mark(page.text) == ASTRAL[start:end]
    assert astral_client.get(f"/documents/astral/spans?start={start}&end={end}").json()["text"] == ASTRAL[start:end]
    # The whole text is on the page, exactly: before + span + after.
    body = re.search(r'<div class="doc-text"[^>]*>(.*?)</div>', page.text, re.S)
    assert body and re.sub(r"</?mark[^>]*>", "", html.unescape(body.group(1))) == ASTRAL


def test_the_span_page_says_what_is_wrong(astral_client: TestClient[Litestar]) -> None:
    for query in ("start=5&end=2", f"start=0&end={len(ASTRAL) + 1}", "start=3"):
        page = astral_client.get(f"/ui/documents/astral?{query}")
        assert page.status_code == 200 and "A span needs 0 ≤ start &lt; end ≤" in page.text, query
        assert '<mark id="span"' not in page.text
    assert astral_client.get("/ui/documents/astral?start=-1&end=2").status_code == 400


def test_stale_citations_are_flagged(astral_client: TestClient[Litestar]) -> None:
    doc = astral_client.get("/documents/astral").json()
    current = astral_client.get(f"/ui/documents/astral?start=0&end=5&sha256={doc['sha256']}")
    assert "This document has changed" not in current.text
    stale = astral_client.get(f"/ui/documents/astral?start=0&end=5&sha256={'ab' * 32}")
    assert "This document has changed" in stale.text and 'class="cite stale"' in stale.text


def test_document_text_and_titles_are_escaped(astral_client: TestClient[Litestar]) -> None:
    listing = astral_client.get("/ui/documents").text
    assert "&lt;b&gt;Bold&lt;/b&gt; &amp; co" in listing and "<b>Bold</b>" not in listing
    page = astral_client.get("/ui/documents/markup").text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert(1)" not in page


def test_unknown_documents_get_a_page(client: TestClient[Litestar]) -> None:
    page = client.get("/ui/documents/no-such-document")
    assert page.status_code == 404 and "No such document" in page.text
    assert page.headers["content-type"].startswith("text/html")


def test_document_pages_follow_read_requires_key(
    make_client: Callable[..., TestClient[Litestar]], settings: Settings
) -> None:
    key = "test-key-0123456789abcdef"
    closed = make_client(
        tuned(settings, rate_limit={"enabled": False}, security={"api_key": key, "read_requires_key": True})
    )
    assert closed.get("/").status_code == 200  # the page shell holds no content
    assert closed.get("/ui/documents").status_code == 401
    assert closed.get(f"/ui/documents/{DOC}", headers={"X-API-Key": key}).status_code == 200
