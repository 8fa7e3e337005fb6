"""``POST /admin/reindex``: a full rebuild from seeds/ in the background (``LiveEngine.start_reindex``)."""

from __future__ import annotations

from litestar import get, post
from litestar.exceptions import HTTPException

from rag.engine.live import LiveEngine
from rag.http.openapi import ADMIN_ERRORS, problem_spec
from rag.records import ReindexStatus


@post(
    "/admin/reindex",
    status_code=202,
    opt={"access": "admin"},
    security=[{"apiKey": []}],
    responses={**ADMIN_ERRORS, 409: problem_spec("A reindex is already running")},
)
async def start_reindex(live: LiveEngine) -> ReindexStatus:
    """Rebuild the index from seeds/ in the background; poll ``GET /admin/reindex`` for the outcome.

    A document change running when this arrives finishes first, and the rebuild includes it."""
    status = live.start_reindex()
    if status is None:
        raise HTTPException(status_code=409, detail="a reindex is already running")
    return status


@get("/admin/reindex", opt={"access": "admin"}, security=[{"apiKey": []}], responses=ADMIN_ERRORS)
async def reindex_status(live: LiveEngine) -> ReindexStatus:
    """The state of the latest reindex."""
    return live.reindex_status


ROUTES = [start_reindex, reindex_status]
