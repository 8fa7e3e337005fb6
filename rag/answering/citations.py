"""Citations are only ever made from, and checked against, the raw document text."""

from __future__ import annotations

from rag.errors import CitationMismatch
from rag.records import Citation, Document


def cite(doc: Document, start: int, end: int, score: float, answer_start: int, answer_end: int) -> Citation:
    return Citation(
        doc_id=doc.doc_id,
        doc_sha256=doc.sha256,
        start=start,
        end=end,
        quote=doc.text[start:end],
        score=round(score, 6),
        answer_start=answer_start,
        answer_end=answer_end,
    )


def verify(citation: Citation, documents: dict[str, Document]) -> None:
    """Raise unless the citation quotes its document exactly, at the document's current hash."""
    doc = documents.get(citation.doc_id)
    if doc is None or doc.sha256 != citation.doc_sha256:
        raise CitationMismatch(f"citation names unknown or changed document {citation.doc_id!r}")
    if (
        not (0 <= citation.start < citation.end <= len(doc.text))
        or doc.text[citation.start : citation.end] != citation.quote
    ):
        raise CitationMismatch(f"quote differs from {citation.doc_id}[{citation.start}:{citation.end}]")
