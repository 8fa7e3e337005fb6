"""``POST /gold``: append a gold question, made on the document page, to the server's gold file.

The document page (``/ui/documents/{id}``) turns a selection, a question and short answers
into a gold line (``rag.eval.gold``) that can be downloaded; with the API key it can also be
appended here to ``[paths] gold`` (default ``gold.jsonl``), the file that
``pytest --rag-gold`` and ``rag eval --set`` read. The line is checked before it is written, so
the file never holds a line that would not load:

* against the schema (``GoldQuestion``: a blank id or question, an answerable kind without
  answers, an unanswerable one with answers or evidence): 400, as any other schema violation;
* every evidence span against its document: 404 when the document or the span
  (``0 <= start < end <= its length``) does not exist, as ``/documents/{id}/spans`` answers; 409
  when the document's text at those offsets (code points) is not the evidence's text;
* for an id not yet in the file: 409.

Appends are serialised with a file lock, so concurrent workers never interleave lines.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio.to_thread
import msgspec
from filelock import FileLock
from litestar import Request, post
from litestar.exceptions import HTTPException

from rag.config import Settings
from rag.engine.service import QAService
from rag.errors import BadRequest, UnknownDocument, UnknownSpan
from rag.eval.gold import GoldFileError, GoldLine, consistency_problems, parse_gold_line
from rag.http.dependencies import invalid, require_json
from rag.http.openapi import ADMIN_ERRORS, problem_spec
from rag.http.schemas import GoldQuestion, kind_problems


class GoldAppended(msgspec.Struct):
    id: str
    file: str
    line: int  # 1-based line number of the appended question
    questions: int  # questions now in the file


def check_evidence(item: GoldQuestion, engine: QAService) -> None:
    """Every span must be in a known document and hold exactly its text at its offsets."""
    for n, e in enumerate(item.evidence):
        doc = engine.data.documents.get(e.doc_id or "")
        if doc is None:
            raise UnknownDocument(f"evidence[{n}] names no known document (doc_id {e.doc_id!r})")
        size = len(doc.text)
        if not 0 <= e.start < e.end <= size:
            why = "start must be < end" if e.start >= e.end else f"end must be <= {size}"
            raise UnknownSpan(f"evidence[{n}]: no span [{e.start}, {e.end}) in document {doc.doc_id!r}: it has "
                              f"{size} characters; {why}")  # fmt: skip
        found = doc.text[e.start : e.end]
        if found != e.text:
            raise HTTPException(
                status_code=409,
                detail=f"evidence[{n}] is not the text of {doc.doc_id} at {e.start}-{e.end} (code points): the "
                f"document reads {found[:80]!r} there",
            )
    problems = consistency_problems(item)  # what is left after the schema and the spans: nothing, as they stand
    if problems:
        raise BadRequest("; ".join(problems))


def append_line(path: Path, item: GoldLine) -> GoldAppended:
    path.parent.mkdir(parents=True, exist_ok=True)
    # A lock file beside the gold file (as for the index's writer lock): workers and processes
    # that append at once take turns, so no two lines interleave and no id is written twice.
    with FileLock(path.with_name(path.name + ".lock")), path.open("a+", encoding="utf-8") as handle:
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
    before_request=require_json,
    opt={"access": "admin"},
    security=[{"apiKey": []}],
    responses={
        **ADMIN_ERRORS,
        400: problem_spec(
            "The body is not a gold line (malformed JSON, wrong types, unknown fields, a blank id or question, "
            "answers or evidence that its kind does not allow)"
        ),
        404: problem_spec("An evidence span names no known document, or a span the document does not have"),
        409: problem_spec(
            "The file already has a question with this id, or the document's text at an evidence span's offsets "
            "is not the evidence's text"
        ),
        413: problem_spec("The body is larger than server.max_body_bytes"),
        415: problem_spec("The body is not JSON"),
    },
)
async def append_gold(
    data: GoldQuestion, engine: QAService, settings: Settings, request: Request[Any, Any, Any]
) -> GoldAppended:
    """Append one gold question to the server's gold file (``[paths] gold``)."""
    problems = kind_problems(data)
    if problems:
        raise invalid(request, problems)
    check_evidence(data, engine)
    return await anyio.to_thread.run_sync(append_line, Path(settings.paths.gold), data)


ROUTES = [append_gold]
