"""Collections and metadata filters: which documents a question may be answered from.

A filter names a collection, document ids, and metadata conditions. A condition is equality
(``{"source": "handbook"}``) or set membership when given a list (``{"source": ["a", "b"]}``);
when the document's own value is a list (tags), it matches if any of its items does. ``title``
is matched like a metadata key. Every part given must hold (AND); an empty filter allows all.

Filters resolve to a set of document ids against the engine's documents (both stores keep
them in memory), and retrieval then searches only those documents' chunks
(``rag.retrieval.hybrid``), so a filtered search still returns ``k`` passages when the
allowed documents hold that many.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Annotated

import msgspec

from rag.records import Document, MetadataInt, MetadataValue

MAX_CONDITIONS = 32
Scalar = str | MetadataInt | bool  # as rag.records.MetadataValue


class SearchFilter(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Which documents to answer from; every part given must hold."""

    collection: Annotated[str, msgspec.Meta(min_length=1, max_length=128)] | None = None
    doc_ids: Annotated[list[str], msgspec.Meta(max_length=1000)] | None = None
    metadata: Annotated[
        dict[str, Scalar | list[Scalar]],
        msgspec.Meta(
            max_length=MAX_CONDITIONS,
            description="key: value (equality) or key: [values] (any of them); 'title' matches the title",
        ),
    ] = msgspec.field(default_factory=dict)

    def is_empty(self) -> bool:
        return self.collection is None and self.doc_ids is None and not self.metadata


def _matches(found: MetadataValue | None, wanted: Scalar | list[Scalar]) -> bool:
    if found is None:
        return False
    accepted = wanted if isinstance(wanted, list) else [wanted]
    held = found if isinstance(found, list) else [found]
    return any(h == a and type(h) is type(a) for h in held for a in accepted)


def admits(search_filter: SearchFilter, document: Document) -> bool:
    if search_filter.collection is not None and document.collection != search_filter.collection:
        return False
    if search_filter.doc_ids is not None and document.doc_id not in search_filter.doc_ids:
        return False
    for key, wanted in search_filter.metadata.items():
        found: MetadataValue | None = document.title if key == "title" else document.metadata.get(key)
        if not _matches(found, wanted):
            return False
    return True


def allowed_documents(
    search_filter: SearchFilter | None, documents: Mapping[str, Document] | Iterable[Document]
) -> frozenset[str] | None:
    """The ids of the documents ``search_filter`` admits; ``None`` when it admits every one."""
    if search_filter is None or search_filter.is_empty():
        return None
    values = documents.values() if isinstance(documents, Mapping) else documents
    return frozenset(d.doc_id for d in values if admits(search_filter, d))
