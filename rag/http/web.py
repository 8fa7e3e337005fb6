"""The web page: ask a question, read the answer, see every cited span in its source.

No build step: Jinja templates and one vanilla-JavaScript file, shipped as package data in
``rag/http/ui/``. Pages:

* ``/``: the question form. The script asks ``POST /ask``, shows the answer, its confidence
  and its citations, and below them each cited document with every cited span in a
  ``<mark>``; a citation link scrolls to and focuses its mark. An abstention says so plainly
  and lists the nearest passages. The API's offsets count Unicode code points and
  JavaScript strings count UTF-16 units, so the script converts offsets before slicing
  (characters outside the Basic Multilingual Plane, e.g. emoji, take two units).
* ``/ui/documents``: every document; ``/ui/documents/{id}``: its text, and with
  ``?start=&end=`` the span at those offsets highlighted (rendered on the server, so no
  conversion is needed there); ``&sha256=`` warns when the document has changed since a
  citation was made.

The HTML routes are left out of the OpenAPI schema (schema fuzzing stays on the JSON API).
Pages send a strict Content-Security-Policy: scripts and styles only from ``/static``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from litestar import Router, get
from litestar.connection import ASGIConnection
from litestar.exceptions import NotFoundException
from litestar.handlers.base import BaseRouteHandler
from litestar.params import Parameter
from litestar.response import Template
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig

from rag import __version__
from rag.engine.service import QAService, info
from rag.errors import UnknownDocument
from rag.http.dependencies import integer_query
from rag.records import Document

UI_DIR = Path(__file__).parent / "ui"
HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


def template_config() -> TemplateConfig[Any]:
    from litestar.plugins.jinja import JinjaTemplateEngine

    return TemplateConfig(directory=UI_DIR / "templates", engine=JinjaTemplateEngine)


def page(name: str, status_code: int = 200, **context: Any) -> Template:
    return Template(name, context={"version": __version__, **context}, headers=HEADERS, status_code=status_code)


@get("/", include_in_schema=False, name="home")
async def home() -> Template:
    """The question page (the question itself may come as ``?q=``; the script asks it)."""
    return page("index.html")


@get("/ui/documents", include_in_schema=False, opt={"access": "read"}, name="ui-documents")
async def documents_page(engine: QAService) -> Template:
    docs = sorted(engine.documents(), key=lambda d: (d.title.lower(), d.doc_id))
    return page("documents.html", documents=docs)


@get(
    "/ui/documents/{doc_id:str}",
    include_in_schema=False,
    opt={"access": "read"},
    name="ui-document",
    before_request=integer_query("start", "end"),
)
async def document_page(
    engine: QAService,
    doc_id: str,
    start: Annotated[int | None, Parameter(ge=0)] = None,
    end: Annotated[int | None, Parameter(ge=0)] = None,
    sha256: Annotated[str | None, Parameter(max_length=64)] = None,
) -> Template:
    """A document's text; ``start``/``end`` (code points) highlight a span, ``sha256`` checks its version."""
    try:
        doc = engine.document(doc_id)
    except UnknownDocument:
        return page("missing.html", status_code=404, doc_id=doc_id)
    return page("document.html", status_code=200, **span_context(doc, start, end, sha256))


def span_context(doc: Document, start: int | None, end: int | None, sha256: str | None) -> dict[str, Any]:
    """What the document page shows: the text cut around the span, or why the span is not shown."""
    text = doc.text
    context: dict[str, Any] = {
        "doc": info(doc),
        "start": start,
        "end": end,
        "sha256": sha256,
        "stale": bool(sha256) and sha256 != doc.sha256,
        "error": None,
        "before": text,
        "span": None,
        "after": "",
    }
    if start is None and end is None:
        return context
    if start is None or end is None or not 0 <= start < end <= len(text):
        context["error"] = f"A span needs 0 ≤ start < end ≤ {len(text)} (the document's length in characters)."
        return context
    context.update(before=text[:start], span=text[start:end], after=text[end:])
    return context


def no_nul_in_path(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
    """Guard: no file name holds a NUL, and the file system would raise ValueError on one (a 500)."""
    if "\x00" in connection.url.path:
        raise NotFoundException()


def routes() -> list[Any]:
    static: Router = create_static_files_router(
        path="/static", directories=[UI_DIR / "static"], include_in_schema=False, name="static",
        guards=[no_nul_in_path],
    )  # fmt: skip
    return [home, documents_page, document_page, static]
