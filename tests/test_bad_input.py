"""Bad input never gives a 5xx or hangs: each case below gets a clear 4xx problem (or, for odd
but valid questions, a 200). The table is the inventory of what was tried. Nothing here changes
documents, so every case asks one app over the session's shared index."""

from __future__ import annotations

from typing import Any, NamedTuple

import pytest
from litestar import Litestar
from litestar.testing import TestClient

DOC = "us-ukraine-russia-negotiations"
JSON = {"content-type": "application/json"}
Q = "What does Moscow insist Ukraine must do?"


class Case(NamedTuple):
    name: str
    method: str
    path: str
    request: dict[str, Any]  # keyword arguments for the client call
    status: int
    detail: str  # a substring of the problem's detail ("" for 2xx)


def body(raw: bytes | str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    return {"content": raw.encode() if isinstance(raw, str) else raw, "headers": headers or JSON}


# fmt: off
CASES = [
    # -- /ask: the question ---------------------------------------------------------------
    Case("empty question", "POST", "/ask", {"json": {"question": ""}}, 400, "question Expected `str` of length >= 1"),
    Case("whitespace question", "POST", "/ask", {"json": {"question": " \t\r\n "}}, 422, "question is empty"),
    Case("over max_question_chars", "POST", "/ask", {"json": {"question": "why " * 501}}, 422, "longer than 2000"),
    Case("NUL byte", "POST", "/ask", {"json": {"question": "Moscow\x00Ukraine"}}, 422, "control character (U+0000)"),
    Case("bell control char", "POST", "/ask", {"json": {"question": "Ukraine\x07?"}}, 422, "(U+0007) at position 7"),
    Case("escape sequence", "POST", "/ask", {"json": {"question": "\x1b[31mred"}}, 422, "(U+001B)"),
    Case("C1 control char", "POST", "/ask", {"json": {"question": "a\x85b"}}, 422, "(U+0085)"),
    Case("DEL char", "POST", "/ask", {"json": {"question": "Kyiv\x7f"}}, 422, "(U+007F)"),
    Case("lone high surrogate", "POST", "/ask", body(r'{"question": "\ud800"}'), 400, "not valid JSON"),
    Case("lone low surrogate", "POST", "/ask", body(r'{"question": "\udc00 x"}'), 400, "not valid JSON"),
    Case("surrogate then text", "POST", "/ask", body(r'{"question": "\ud800 abc"}'), 400, "surrogate"),
    Case("only punctuation", "POST", "/ask", {"json": {"question": "?!…"}}, 422, "no letters or digits"),
    Case("only emoji", "POST", "/ask", {"json": {"question": "🤔🤔"}}, 422, "no letters or digits"),
    Case("only zero-width spaces", "POST", "/ask", {"json": {"question": "\u200b\u200b"}}, 422, "no letters"),
    Case("mixed scripts", "POST", "/ask", {"json": {"question": "Что Moscow 要求 Ukraine ل?"}}, 200, ""),
    Case("emoji in question", "POST", "/ask", {"json": {"question": "🇺🇦 What must Ukraine cede? 🤔"}}, 200, ""),
    Case("combining marks", "POST", "/ask", {"json": {"question": "Wha\u0301t doe\u0308s Kyiv want?"}}, 200, ""),
    Case("right-to-left text", "POST", "/ask", {"json": {"question": "\u202eما هي المطالب؟"}}, 200, ""),
    Case("astral letters", "POST", "/ask", {"json": {"question": "𝔚𝔥𝔞𝔱 𝔡𝔬𝔢𝔰 𝔐𝔬𝔰𝔠𝔬𝔴 𝔴𝔞𝔫𝔱?"}}, 200, ""),
    Case("tabs and newlines", "POST", "/ask", {"json": {"question": "What\tdoes\r\nMoscow want?"}}, 200, ""),
    Case("exactly max chars", "POST", "/ask", {"json": {"question": "a" * 2000}}, 200, ""),
    Case("JSON-escaped emoji pair", "POST", "/ask", body(r'{"question": "Kyiv \ud83d\ude00?"}'), 200, ""),
    # -- /ask: the body -------------------------------------------------------------------
    Case("body over the size limit", "POST", "/ask", {"json": {"question": "x" * 70_000}}, 413, "larger than 65536"),
    Case("invalid JSON", "POST", "/ask", body('{"question": '), 400, "not valid JSON"),
    Case("trailing garbage", "POST", "/ask", body('{"question": "a"} x'), 400, "not valid JSON"),
    Case("single quotes", "POST", "/ask", body("{'question': 'a'}"), 400, "not valid JSON"),
    Case("empty body", "POST", "/ask", body(b""), 400, "the request body is empty"),
    Case("whitespace body", "POST", "/ask", body(b"  \n"), 400, "the request body is empty"),
    Case("JSON null", "POST", "/ask", body("null"), 400, "Expected `object`, got `null`"),
    Case("JSON array", "POST", "/ask", body('["What?"]'), 400, "Expected `object`, got `array`"),
    Case("JSON string", "POST", "/ask", body('"What?"'), 400, "Expected `object`, got `str`"),
    Case("not UTF-8", "POST", "/ask", body(b'{"question": "\xff\xfe"}'), 400, "not valid UTF-8"),
    Case("Latin-1 bytes", "POST", "/ask", body('{"question": "café"}'.encode("latin-1")), 400, "not valid UTF-8"),
    Case("nested 100k deep", "POST", "/ask", body("[" * 30_000 + "]" * 30_000), 400, "nested too deeply"),
    Case("deep inside a field", "POST", "/ask", body('{"question": "a", "top_k": ' + "[" * 30_000 + "]" * 30_000 + "}"),
         400, "nested too deeply"),
    Case("missing question", "POST", "/ask", {"json": {}}, 400, "Object missing required field `question`"),
    Case("question is a number", "POST", "/ask", {"json": {"question": 42}}, 400, "Expected `str`, got `int`"),
    Case("question is a list", "POST", "/ask", {"json": {"question": ["a"]}}, 400, "Expected `str`, got `array`"),
    Case("question is null", "POST", "/ask", {"json": {"question": None}}, 400, "Expected `str`, got `null`"),
    Case("unknown field", "POST", "/ask", {"json": {"question": Q, "mode": "x"}}, 400, "unknown field `mode`"),
    # A body sends numbers as numbers (Litestar's lax conversion is not used for bodies); 3.0 is an
    # integer as JSON Schema counts them.
    Case("top_k as numeric string", "POST", "/ask", {"json": {"question": Q, "top_k": "5"}}, 400, "got `str`"),
    Case("top_k as integral float", "POST", "/ask", {"json": {"question": Q, "top_k": 3.0}}, 200, ""),
    Case("top_k as word", "POST", "/ask", {"json": {"question": Q, "top_k": "five"}}, 400, "Expected `int | null`"),
    Case("top_k as bool", "POST", "/ask", {"json": {"question": Q, "top_k": True}}, 400, "Expected `int | null`"),
    Case("top_k as float", "POST", "/ask", {"json": {"question": Q, "top_k": 2.5}}, 400, "Expected `int | null`"),
    Case("top_k zero", "POST", "/ask", {"json": {"question": Q, "top_k": 0}}, 400, "Expected `int` >= 1"),
    Case("top_k negative", "POST", "/ask", {"json": {"question": Q, "top_k": -3}}, 400, "Expected `int` >= 1"),
    Case("top_k above max", "POST", "/ask", {"json": {"question": Q, "top_k": 51}}, 400, "top_k Expected `int` <= 50"),
    Case("top_k huge", "POST", "/ask", body('{"question": "a", "top_k": 100000000000000000000000}'), 400,
         "Expected `int` <= 50"),
    Case("top_k 1e400", "POST", "/ask", body('{"question": "a", "top_k": 1e400}'), 400, "out of range"),
    Case("top_k null", "POST", "/ask", {"json": {"question": Q, "top_k": None}}, 200, ""),
    # -- /ask: the content type -----------------------------------------------------------
    Case("text/plain", "POST", "/ask", body(f'{{"question": "{Q}"}}', {"content-type": "text/plain"}), 415,
         "got text/plain"),
    Case("form encoded", "POST", "/ask", {"data": {"question": Q}}, 415, "got application/x-www-form-urlencoded"),
    Case("multipart", "POST", "/ask", {"files": {"question": ("q.txt", b"What?")}}, 415, "got multipart/form-data"),
    Case("no content type", "POST", "/ask", {"content": b'{"question": "a"}'}, 415, "got none"),
    Case("xml", "POST", "/ask", body("<q>a</q>", {"content-type": "application/xml"}), 415, "application/xml"),
    Case("json with charset", "POST", "/ask", body(f'{{"question": "{Q}"}}', {"content-type": "application/json; "
         "charset=utf-8"}), 200, ""),
    Case("+json media type", "POST", "/ask", body(f'{{"question": "{Q}"}}', {"content-type": "application/vnd.x+json"}),
         200, ""),
    # -- /search --------------------------------------------------------------------------
    Case("search without q", "GET", "/search", {}, 400, "Missing required query parameter 'q'"),
    Case("search empty q", "GET", "/search", {"params": {"q": ""}}, 422, "question is empty"),
    Case("search NUL", "GET", "/search", {"params": {"q": "a\x00b"}}, 422, "control character (U+0000)"),
    Case("search long q", "GET", "/search", {"params": {"q": "w" * 2001}}, 422, "longer than 2000"),
    Case("search k zero", "GET", "/search", {"params": {"q": "Kyiv", "k": 0}}, 400, "k Expected `int` >= 1"),
    Case("search k negative", "GET", "/search", {"params": {"q": "Kyiv", "k": -1}}, 400, "k Expected `int` >= 1"),
    Case("search k not int", "GET", "/search", {"params": {"q": "Kyiv", "k": "ten"}}, 400, "got `str`"),
    Case("search k fraction", "GET", "/search", {"params": {"q": "Kyiv", "k": "2.5"}}, 400, "k Expected `int`"),
    Case("search k above max", "GET", "/search", {"params": {"q": "Kyiv", "k": 51}}, 400, "k Expected `int` <= 50"),
    Case("search k huge", "GET", "/search", {"params": {"q": "Kyiv", "k": 10**40}}, 400, "k Expected `int` <= 50"),
    Case("search k exponent", "GET", "/search", {"params": {"q": "Kyiv", "k": "1e3"}}, 400, "k Expected `int`"),
    Case("search invalid UTF-8 escape", "GET", "/search?q=%ff%fe", {}, 422, "no letters or digits"),
    # -- /documents/{id} and spans --------------------------------------------------------
    Case("unknown doc", "GET", "/documents/missing", {}, 404, "no document with id 'missing'"),
    Case("traversal", "GET", "/documents/..%2F..%2Fetc%2Fpasswd", {}, 404, "Not Found"),
    Case("encoded dots", "GET", "/documents/%2e%2e%2f%2e%2e%2fetc%2fpasswd", {}, 404, "Not Found"),
    Case("double encoded", "GET", "/documents/%252e%252e%252fetc", {}, 404, "Not Found"),
    Case("backslashes", "GET", "/documents/..%5C..%5Cwindows%5Cwin.ini", {}, 404, "no document with id"),
    Case("NUL in doc id", "GET", f"/documents/{DOC}%00", {}, 404, "no document with id"),
    Case("absolute path id", "GET", "/documents/%2Fetc%2Fpasswd", {}, 404, "Not Found"),
    Case("very long doc id", "GET", "/documents/" + "a" * 5000, {}, 404, "no document with id 'aaaa"),
    Case("traversal in spans", "GET", "/documents/..%2Fx/spans?start=0&end=1", {}, 404, "Not Found"),
    Case("spans reversed", "GET", f"/documents/{DOC}/spans", {"params": {"start": 9, "end": 3}}, 404,
         f"no span [9, 3) in document '{DOC}': it has 10000 characters; start must be < end"),
    Case("spans empty", "GET", f"/documents/{DOC}/spans", {"params": {"start": 5, "end": 5}}, 404,
         "start must be < end"),
    Case("spans out of range", "GET", f"/documents/{DOC}/spans", {"params": {"start": 0, "end": 10**9}}, 404,
         "it has 10000 characters; end must be <= 10000"),
    Case("spans negative", "GET", f"/documents/{DOC}/spans", {"params": {"start": -5, "end": 3}}, 400, ">= 0"),
    Case("spans not integer", "GET", f"/documents/{DOC}/spans", {"params": {"start": "x", "end": 3}}, 400,
         "Expected `int`"),
    Case("spans unknown doc", "GET", "/documents/nope/spans", {"params": {"start": 0, "end": 3}}, 404, "'nope'"),
    # -- routes and methods ---------------------------------------------------------------
    Case("unknown route", "GET", "/nope", {}, 404, "Not Found"),
    Case("GET /ask", "GET", "/ask", {}, 405, "Method Not Allowed"),
    Case("PATCH a document", "PATCH", f"/documents/{DOC}", {}, 405, "Method Not Allowed"),
    Case("PUT /documents", "PUT", "/documents", {}, 405, "Method Not Allowed"),
    Case("TRACE", "TRACE", "/health", {}, 405, "Method Not Allowed"),
    Case("admin without a configured key", "POST", "/admin/reindex", {}, 403, "no API key configured"),
]
# fmt: on


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input_gets_a_clear_answer(read_only_client: TestClient[Litestar], case: Case) -> None:
    response = read_only_client.request(case.method, case.path, **case.request)
    assert response.status_code == case.status, response.text[:500]
    if case.status >= 400:
        assert response.headers["content-type"] == "application/problem+json"
        problem = response.json()
        assert problem["status"] == case.status and problem["title"] and problem["type"] == "about:blank"
        assert case.detail in problem["detail"], problem["detail"]
        assert len(problem["detail"]) <= 1001  # never echoes a huge input back
    else:
        assert response.json()["question"]


def test_the_inventory() -> None:
    bad = [c for c in CASES if c.status >= 400]
    assert len(CASES) == len({c.name for c in CASES})  # no duplicates
    assert len(bad) >= 70, len(bad)
