"""Citations are exact quotes of the raw text: verify() accepts them and rejects any tampering."""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rag.answering.citations import cite, verify
from rag.documents.loading import make_document
from rag.errors import CitationMismatch
from rag.records import Citation

TEXT = "Moscow insists that Ukraine must cede territory.\r\nKyiv refuses — “not one inch”. 🙂 Done."
DOC = make_document("talks", TEXT, "seeds/talks.txt")
OTHER = make_document("other", "Something else entirely.", "seeds/other.txt")
DOCS = {DOC.doc_id: DOC, OTHER.doc_id: OTHER}


def quote(fragment: str) -> Citation:
    start = TEXT.index(fragment)
    return cite(DOC, start, start + len(fragment), 0.87654321, 0, len(fragment))


def test_an_exact_quote_verifies() -> None:
    citation = quote("Ukraine must cede territory")
    assert citation.quote == "Ukraine must cede territory"
    assert citation.doc_sha256 == DOC.sha256 and citation.score == 0.876543
    verify(citation, DOCS)
    verify(quote("“not one inch”. 🙂"), DOCS)  # typographic quotes and astral characters are code points
    verify(quote(".\r\nKyiv"), DOCS)  # CRLF is part of the raw text


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"quote": "Ukraine must cede teritory"}, "quote differs"),
        ({"quote": "ukraine must cede territory"}, "quote differs"),
        ({"start": 21}, "quote differs"),
        ({"end": 46}, "quote differs"),
        ({"start": 47, "end": 20}, "quote differs"),
        ({"start": -5}, "quote differs"),
        ({"end": len(TEXT) + 1}, "quote differs"),
        ({"start": 20, "end": 20, "quote": ""}, "quote differs"),
        ({"doc_sha256": "0" * 64}, "unknown or changed document"),
        ({"doc_id": "nope"}, "unknown or changed document"),
        ({"doc_id": "other"}, "unknown or changed document"),
        ({"doc_id": "other", "doc_sha256": OTHER.sha256}, "quote differs"),
    ],
)
def test_tampered_citations_are_rejected(change: dict[str, object], message: str) -> None:
    citation = quote("Ukraine must cede territory")
    with pytest.raises(CitationMismatch, match=message):
        verify(msgspec.structs.replace(citation, **change), DOCS)


def test_a_changed_document_invalidates_its_citations() -> None:
    citation = quote("Ukraine must cede territory")
    edited = make_document("talks", TEXT.replace("Kyiv", "Kiev"), "seeds/talks.txt")
    with pytest.raises(CitationMismatch, match="unknown or changed document"):
        verify(citation, {"talks": edited})  # same offsets, same quote, but not the same text


@settings(max_examples=200, deadline=None)
@given(data=st.data(), text=st.text(alphabet=st.characters(exclude_categories=("Cs",)), min_size=2))
def test_any_span_cited_verifies_and_any_shift_is_caught(data: st.DataObject, text: str) -> None:
    doc = make_document("d", text, "d.txt")
    start = data.draw(st.integers(0, len(text) - 1))
    end = data.draw(st.integers(start + 1, len(text)))
    citation = cite(doc, start, end, 1.0, 0, end - start)
    verify(citation, {"d": doc})
    shift = data.draw(st.sampled_from([-1, 1]))
    moved = msgspec.structs.replace(citation, start=start + shift, end=end + shift)
    if text[moved.start : moved.end] != citation.quote or not 0 <= moved.start < moved.end <= len(text):
        with pytest.raises(CitationMismatch):
            verify(moved, {"d": doc})
