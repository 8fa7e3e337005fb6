"""Citations are only ever made from, and checked against, the raw document text."""

from __future__ import annotations

from rag.answering.candidates import PART_SEPARATOR, Proposal
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


def cite_proposal(doc: Document, proposal: Proposal, score: float) -> tuple[str, list[Citation]]:
    """The answer a candidate gives and its citations: a candidate in parts (clauses joined, a list's
    items) quotes each part, mapped to where it sits in the joined answer."""
    pieces: list[str] = []
    citations: list[Citation] = []
    offset = 0
    if len(proposal.cited) != len(proposal.parts):  # the parts share their quotes (a list's items)
        answer = proposal.answer(doc.text)
        return answer, [cite(doc, a, b, score, 0, len(answer)) for a, b in proposal.cited]
    for (start, end), (cite_start, cite_end) in zip(proposal.parts, proposal.cited, strict=True):
        pieces.append(doc.text[start:end])
        citations.append(cite(doc, cite_start, cite_end, score, offset, offset + end - start))
        offset += end - start + len(PART_SEPARATOR)
    return PART_SEPARATOR.join(pieces), citations


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
