"""``POST /gold``: append a gold question, made on the document page, to the server's gold file.

The document page (``/ui/documents/{id}``) turns a selection, a question and short answers
into a gold line (``rag.eval.gold``) that can be downloaded; with the API key it can also be
appended here to ``[paths] gold`` (default ``gold.jsonl``), the file that
``pytest --rag-gold`` and ``rag eval --set`` read. The line is checked before it is written:
against the schema, for consistency, for an id not yet in the file, and every evidence span
against the document text at its offsets (code points), so the file never holds a line that
would not load. Appends are serialised with a file lock, so concurrent workers never
interleave lines.
"""

from __future__ import annotations

import fcntl
from pathlib import Path

import anyio.to_thread
import msgspec
from litestar import post
from litestar.datastructures import State
from litestar.exceptions import HTTPException
from litestar.openapi import ResponseSpec

from rag.engine.service import BadRequest, QAService
from rag.eval.gold import GoldFileError, GoldLine, consistency_problems, parse_gold_line
from rag.http.app import PROBLEM, Problem


class GoldAppended(msgspec.Struct):
    id: str
    file: str
    line: int  # 1-based line number of the appended question
    questions: int  # questions now in the file


def _problem(description: str) -> ResponseSpec:
    return ResponseSpec(data_container=Problem, media_type=PROBLEM, description=description, generate_examples=False)


def check_evidence(item: GoldLine, service: QAService) -> None:
    """Every span must name a document and hold exactly its text at its offsets."""
    problems = consistency_problems(item)
    for n, e in enumerate(item.evidence):
        doc = service.data.documents.get(e.doc_id or "")
        if doc is None:
            problems.append(f"evidence[{n}] names no known document (doc_id {e.doc_id!r})")
        elif doc.text[e.start : e.end] != e.text:
            problems.append(f"evidence[{n}] is not the text of {doc.doc_id} at {e.start}-{e.end} (code points)")
    if problems:
        raise BadRequest("; ".join(problems))


def append_line(path: Path, item: GoldLine) -> GoldAppended:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+", encoding="utf-8") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)  # released when the file closes
        handle.seek(0)
        lines = [line for line in handle.read().splitlines() if line.strip()]
        for number, line in enumerate(lines, 1):
            try:
                existing = parse_gold_line(line, where=f"{path.name}:{number}")
            except GoldFileError:
                continue  # a line someone broke by hand does not block appending
            if existing.id == item.id:
                raise HTTPException(status_code=409, detail=f"{path.name} already has a question with id {item.id!r}")
        handle.seek(0, 2)
        handle.write(msgspec.json.encode(item).decode("utf-8") + "\n")
        handle.flush()
    return GoldAppended(id=item.id, file=str(path), line=len(lines) + 1, questions=len(lines) + 1)


@post(
    "/gold",
    status_code=201,
    opt={"access": "admin"},
    security=[{"apiKey": []}],
    responses={
        400: _problem("The body is not a gold line (malformed JSON, wrong types, unknown fields)"),
        401: _problem("Missing or wrong API key"),
        403: _problem("No API key is configured, so appending is disabled"),
        409: _problem("The file already has a question with this id"),
        422: _problem("The line is inconsistent, or its evidence is not the document's text at its offsets"),
        503: _problem("The index is not loaded yet"),
    },
)
async def append_gold(data: GoldLine, state: State) -> GoldAppended:
    """Append one gold question to the server's gold file (``[paths] gold``)."""
    service: QAService | None = state.get("service")
    if service is None:
        raise HTTPException(status_code=503, detail="the index is not loaded yet")
    check_evidence(data, service)
    path = Path(state["settings"].paths.gold)
    return await anyio.to_thread.run_sync(append_line, path, data)


ROUTES = [append_gold]
