"""API keys scoped to one collection (``[security] collection_keys``: collection -> key).

A request that presents a collection's key reads and writes that collection only:

* ``/ask``, ``/search`` and ``GET /documents`` are confined to it; naming another is 403;
* a document of another collection is 404 to it (``/documents/{id}``, ``/spans``), as if absent;
* ``POST /documents`` puts documents into it (403 for another collection, or to replace a
  document that belongs to another), and ``DELETE`` removes only its own documents;
* every other admin endpoint (``/admin/reindex``) needs the main ``api_key``.

The guard (``rag.http.app.require_key``) records the key's collection in the request state.
Scoped keys confine reads only when reads need a key (``read_requires_key = true``); without
it anyone may read every collection, key or not.
"""

from __future__ import annotations

import hmac
from typing import Any

import msgspec
from litestar.connection import ASGIConnection
from litestar.exceptions import PermissionDeniedException

from rag.config import SecuritySettings
from rag.errors import UnknownDocument
from rag.records import Document
from rag.retrieval.filters import SearchFilter

SCOPE = "collection_scope"
SCOPED_WRITES = "collection_scoped"  # handler opt: a collection's key may call this admin endpoint


def key_collection(security: SecuritySettings, supplied: bytes | None) -> str | None:
    """The collection whose key was supplied, if any (compared in constant time)."""
    if supplied is None:
        return None
    found = None
    for collection, key in security.collection_keys.items():
        if hmac.compare_digest(supplied, key.encode("utf-8")):
            found = collection
    return found


def scope_of(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    state = connection.scope.get("state") or {}
    scope: str | None = state.get(SCOPE)
    return scope


def confine(scope: str | None, chosen: SearchFilter | None) -> SearchFilter | None:
    """``chosen`` limited to the key's collection (403 if it names another)."""
    if scope is None:
        return chosen
    if chosen is not None and chosen.collection not in (None, scope):
        raise PermissionDeniedException(detail=f"this key reads collection {scope!r} only")
    return msgspec.structs.replace(chosen or SearchFilter(), collection=scope)


def visible(scope: str | None, document: Document) -> Document:
    """``document``, or 404 when the key's collection is another."""
    if scope is not None and document.collection != scope:
        raise UnknownDocument(f"no document with id {document.doc_id!r}")
    return document


def check_write(scope: str | None, collection: str, existing: Document | None) -> None:
    """403 unless a scoped key writes into its own collection, over nothing of another's."""
    if scope is None:
        return
    if collection != scope or (existing is not None and existing.collection != scope):
        raise PermissionDeniedException(detail=f"this key writes collection {scope!r} only")
