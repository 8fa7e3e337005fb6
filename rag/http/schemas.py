"""Request and response bodies of the JSON API (msgspec structs: they are the OpenAPI schema too)."""

from __future__ import annotations

from typing import Annotated, cast

import msgspec

from rag.documents.loading import MAX_BYTES
from rag.engine.service import NOT_BLANK_PATTERN
from rag.engine.updates import MAX_DOC_ID_CHARS
from rag.errors import BadRequest
from rag.eval.gold import GoldLine
from rag.eval.metrics import GoldEvidence
from rag.records import MetadataValue, Passage
from rag.retrieval.filters import SearchFilter

# JSON escapes can double a text's size (e.g. "\n"); the text itself is held to MAX_BYTES.
MAX_UPLOAD_BODY_BYTES = 2 * MAX_BYTES + 65_536


TOP_K_DESCRIPTION = "Passages to return (at most retrieval.max_top_k)."


class AskRequest(msgspec.Struct, forbid_unknown_fields=True):
    """The body of ``POST /ask``; the app serves ``bounded_ask_request``'s subclass, whose schema
    holds the configured maximum of ``top_k``."""

    question: Annotated[str, msgspec.Meta(min_length=1, description="The question, in any language or script.")]
    top_k: Annotated[int, msgspec.Meta(ge=1, description=TOP_K_DESCRIPTION)] | None = None
    collection: (
        Annotated[str, msgspec.Meta(min_length=1, max_length=128, description="Answer from this collection only.")]
        | None
    ) = None
    filters: SearchFilter | None = None  # document ids and metadata conditions (rag.retrieval.filters)
    explain: Annotated[
        bool, msgspec.Meta(description="Also return the reader's best candidates and their features.")
    ] = False

    def search_filter(self) -> SearchFilter | None:
        return combined_filter(self.collection, self.filters)


def top_k_type(max_top_k: int) -> object:
    """``top_k`` or ``k`` as the schema states it: an integer from 1 to ``retrieval.max_top_k``,
    so that a value the engine would refuse is refused by the schema, with the same 400."""
    return Annotated[int, msgspec.Meta(ge=1, le=max_top_k, description=TOP_K_DESCRIPTION)]


def bounded_ask_request(max_top_k: int) -> type[AskRequest]:
    """``AskRequest`` with ``top_k`` at most ``max_top_k`` (the setting is read at start, so the
    type is made per app; it keeps the name ``AskRequest`` in the OpenAPI schema)."""
    top_k = (top_k_type(max_top_k) | None, None)  # type: ignore[operator]
    bounded = msgspec.defstruct(
        "AskRequest", [("top_k", *top_k)], bases=(AskRequest,), module=__name__, forbid_unknown_fields=True
    )
    return cast(type[AskRequest], bounded)


def combined_filter(collection: str | None, filters: SearchFilter | None) -> SearchFilter | None:
    """``filters`` with ``collection`` (a shorthand for its ``collection``) folded in.

    ``collection`` and ``filters.collection`` naming different collections admit no document,
    as any filter that matches none: the answer abstains, the search and the listing are empty.
    """
    if collection is None:
        return filters
    combined = msgspec.structs.replace(filters or SearchFilter(), collection=collection)
    if filters is not None and filters.collection not in (None, collection):
        return msgspec.structs.replace(combined, doc_ids=[])  # no document is in both collections
    return combined


def parse_filters(text: str | None) -> SearchFilter | None:
    """A filter given as JSON in a query parameter (422 when it is not one). "filters=" (present
    but empty) is refused too: the schema says the parameter is a JSON filter object, and an
    empty one is ``{}``; leave the parameter out to filter nothing."""
    if text is None:
        return None
    try:
        return msgspec.json.decode(text, type=SearchFilter)
    except msgspec.DecodeError as error:  # ValidationError is a DecodeError
        raise BadRequest(f"filters is not a valid filter object: {error}") from None


class SearchResponse(msgspec.Struct):
    query: str
    passages: list[Passage]


class Health(msgspec.Struct):
    status: str
    ready: bool
    index_version: str | None
    documents: int
    chunks: int


class Problem(msgspec.Struct):
    """RFC 9457 problem details (documents the body ``rag.http.problems`` answers errors with)."""

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None


class DocumentUpload(msgspec.Struct, forbid_unknown_fields=True):
    """A text or Markdown document to add, or to replace the document with the same id."""

    text: Annotated[str, msgspec.Meta(description="The document's full text (UTF-8, not blank, at most 20 MiB).")]
    doc_id: (
        Annotated[
            str,
            msgspec.Meta(
                min_length=1,
                max_length=MAX_DOC_ID_CHARS,
                pattern=r"^[a-z0-9_](?:[a-z0-9._-]*[a-z0-9_])?$",
                description="The document's id; default: from filename, as for a seed file.",
            ),
        ]
        | None
    ) = None
    filename: (
        Annotated[
            str,
            msgspec.Meta(
                min_length=1,
                max_length=255,
                description="A bare file name ending in .txt, .md or .rst: its kind, and the id if doc_id is absent.",
            ),
        ]
        | None
    ) = None
    collection: (
        Annotated[
            str,
            msgspec.Meta(
                min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_][A-Za-z0-9._-]*$",
                description="The document's collection (default: the replaced document's, the key's, or 'default').",
            ),
        ]
        | None
    ) = None  # fmt: skip
    title: Annotated[str, msgspec.Meta(min_length=1, max_length=500)] | None = None
    source: Annotated[str, msgspec.Meta(max_length=2000, description="Where the text came from.")] | None = None
    tags: Annotated[list[Annotated[str, msgspec.Meta(max_length=200)]], msgspec.Meta(max_length=100)] | None = None
    metadata: (
        Annotated[
            dict[Annotated[str, msgspec.Meta(min_length=1, max_length=100)], MetadataValue],
            msgspec.Meta(max_length=50, description="Any further key/values; filters match them."),
        ]
        | None
    ) = None

    def all_metadata(self) -> dict[str, MetadataValue]:
        values: dict[str, MetadataValue] = dict(self.metadata or {})
        if self.source is not None:
            values["source"] = self.source
        if self.tags is not None:
            values["tags"] = list(self.tags)
        return values


# -- POST /gold ------------------------------------------------------------------------------------

NotBlank = Annotated[str, msgspec.Meta(min_length=1, pattern=NOT_BLANK_PATTERN, description="Not only white space.")]


class CitedEvidence(GoldEvidence, frozen=True):
    """Evidence as the document page sends it: offsets into a named document (a gold file may
    leave the document out; a line appended over HTTP is checked against it)."""

    start: Annotated[int, msgspec.Meta(ge=0)]
    end: Annotated[int, msgspec.Meta(ge=1)]
    doc_id: Annotated[str, msgspec.Meta(min_length=1)]


class GoldQuestion(GoldLine, frozen=True, forbid_unknown_fields=True):
    """The body of ``POST /gold``: a gold line (``rag.eval.gold``) with what the schema can say
    of its consistency stated in it; ``rag.http.openapi`` adds the rule on ``kind`` (an
    unanswerable question has no answers and no evidence, any other kind at least one answer),
    which ``kind_problems`` checks."""

    id: NotBlank
    question: NotBlank
    # Frozen, so nothing appends a base-class item: the narrower list is safe wherever a GoldLine is read.
    evidence: list[CitedEvidence]  # type: ignore[assignment]


UNANSWERABLE = "unanswerable"  # the kind GoldItem.answerable is false for


def kind_problems(line: GoldQuestion) -> list[dict[str, str]]:
    """The rule on ``kind`` that the OpenAPI schema states, as validation errors (a 400)."""
    if line.kind == UNANSWERABLE:
        return [
            {"key": key, "message": f"Expected an empty array for kind {UNANSWERABLE!r}", "source": "body"}
            for key in ("answers", "evidence") if getattr(line, key)
        ]  # fmt: skip
    if not line.answers:
        return [{"key": "answers", "message": f"Expected at least one answer for kind {line.kind!r}", "source": "body"}]
    return []
