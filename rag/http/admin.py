"""``POST /admin/reindex``: a full rebuild from seeds/, queued with the other writes (``LiveEngine.start_reindex``)."""

from __future__ import annotations

from litestar import Response, get, post
from litestar.exceptions import HTTPException

from rag.engine.live import LiveEngine
from rag.http.openapi import ADMIN_ERRORS, problem_spec
from rag.records import ReindexStatus


@post(
    "/admin/reindex",
    status_code=202,
    opt={"access": "admin"},
    security=[{"apiKey": []}],
    responses={**ADMIN_ERRORS, 409: problem_spec("A reindex is already queued or running")},
)
async def start_reindex(live: LiveEngine) -> Response[ReindexStatus]:
    """Queue a rebuild of the index from seeds/; poll ``GET /admin/reindex`` (or ``Location``,
    its job) for the outcome.

    Writes queued before it finish first, and the rebuild includes them; writes queued after it
    build on the rebuilt index."""
    status = live.start_reindex()
    if status is None:
        raise HTTPException(status_code=409, detail=f"a reindex is already {live.reindex_status.state}")
    return Response(status, status_code=202, headers={"Location": f"/jobs/{status.job}"})


@get("/admin/reindex", opt={"access": "admin"}, security=[{"apiKey": []}], responses=ADMIN_ERRORS)
async def reindex_status(live: LiveEngine) -> ReindexStatus:
    """The state of the latest reindex."""
    return live.reindex_status


ROUTES = [start_reindex, reindex_status]
