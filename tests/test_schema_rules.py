"""The OpenAPI schema states exactly what the server accepts (issue 12: schemathesis against the
live server, with its default expected statuses, found schema-valid input refused with 422).

The engine's own checks stay the ones that refuse, with their plain 422 messages; the schema
states the same rules as patterns. Each pattern is compared here with its check, over generated
strings, under the validator schemathesis itself uses (``jsonschema_rs``, ECMA 262 with Unicode
classes), so the two cannot drift apart.
"""

from __future__ import annotations

from typing import Any

import jsonschema_rs
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from litestar import Litestar
from litestar.testing import TestClient

from rag.engine.service import QUESTION_PATTERN, check_question
from rag.engine.updates import (
    FILENAME_PATTERN,
    MAX_DOC_ID_CHARS,
    NAMING_FILENAME_PATTERN,
    TEXT_PATTERN,
    document_text,
    resolve_name,
)
from rag.errors import BadRequest
from rag.http.openapi import constraints_of

LIMIT = 40  # a small answering.max_question_chars, so that generated questions cross it
# Letters of several scripts, digits, white space of every kind str.strip() knows, control
# characters, punctuation, emoji, marks, '/', '.', and the letters lower() turns into ASCII.
CHARACTERS = "aZ09_ Ж中ك.-/?!…🤔\u0301\u200b\t\n\r\x0b\x0c\x1c\x1f\x85\xa0\u2028\u3000\ufeff\x00\x07\x1b\x7f\x9f"
ALPHABET = st.sampled_from([*CHARACTERS, "K", "İ", "²", "Ⅻ", "txt", "TXT", "md", "rst", ".txt", ".Md", ".rst"])
STRINGS = st.lists(ALPHABET, max_size=24).map("".join)


def admitted(schema: dict[str, Any], value: Any) -> bool:
    return bool(jsonschema_rs.validator_for(schema).is_valid(value))


def accepts(check: Any, *args: Any) -> bool:
    try:
        check(*args)
    except BadRequest:
        return False
    return True


@settings(max_examples=400, deadline=None)
@given(question=STRINGS)
@example(question="abc\x1f")  # a control character str.strip() removes: was accepted, the schema refuses it
@example(question="\x85Kyiv")
@example(question="Что?")
@example(question="a" * LIMIT)
@example(question=" " + "a" * LIMIT)  # over the limit only with its white space: the schema counts it too
def test_the_question_pattern_admits_exactly_what_check_question_accepts(question: str) -> None:
    schema = {"type": "string", "pattern": QUESTION_PATTERN, "maxLength": LIMIT}
    assert admitted(schema, question) == accepts(check_question, question, LIMIT)


@settings(max_examples=400, deadline=None)
@given(filename=STRINGS)
@example(filename="..txt")
@example(filename="é.txt")
@example(filename="K.txt")  # lower() makes an ASCII 'k' of the Kelvin sign: refused, as the schema says
@example(filename=".txt")
@example(filename="a.txt.")
@example(filename="a/b.md")
@example(filename="x" * MAX_DOC_ID_CHARS + ".md")
def test_the_filename_patterns_admit_exactly_what_resolve_name_accepts(filename: str) -> None:
    any_name = {"type": "string", "pattern": FILENAME_PATTERN}
    naming = {"type": "string", "pattern": NAMING_FILENAME_PATTERN, "maxLength": MAX_DOC_ID_CHARS}
    assert admitted(any_name, filename) == accepts(resolve_name, "given-id", filename)
    assert (admitted(any_name, filename) and admitted(naming, filename)) == accepts(resolve_name, None, filename)


@settings(max_examples=300, deadline=None)
@given(text=STRINGS)
@example(text="\x1c\u3000\n")  # only white space
@example(text="ok\x00")
def test_the_text_pattern_admits_exactly_what_document_text_accepts(text: str) -> None:
    assert admitted({"type": "string", "pattern": TEXT_PATTERN}, text) == accepts(document_text, text, "upload.txt")


def test_a_bad_question_is_still_the_plain_422(client: TestClient[Litestar]) -> None:
    response = client.post("/ask", json={"question": "Kyiv\x1f"})
    assert response.status_code == 422 and "control character (U+001F) at position 4" in response.json()["detail"]


def openapi(client: TestClient[Litestar]) -> dict[str, Any]:
    document: dict[str, Any] = client.get("/schema/openapi.json").json()
    return document


def test_the_schema_states_the_rules_the_engine_checks(client: TestClient[Litestar]) -> None:
    document = openapi(client)
    schemas = document["components"]["schemas"]
    question = schemas["AskRequest"]["properties"]["question"]
    assert question["pattern"] == QUESTION_PATTERN and question["maxLength"] == 2000
    upload = schemas["DocumentUpload"]
    assert upload["properties"]["filename"]["pattern"] == FILENAME_PATTERN
    assert upload["properties"]["text"]["pattern"] == TEXT_PATTERN
    assert upload["if"] == {"required": ["doc_id"], "properties": {"doc_id": {"type": "string"}}}
    assert upload["else"]["required"] == ["filename"]
    assert upload["else"]["properties"]["filename"]["pattern"] == NAMING_FILENAME_PATTERN
    search = {p["name"]: p for p in document["paths"]["/search"]["get"]["parameters"]}
    assert search["q"]["schema"]["pattern"] == QUESTION_PATTERN and search["q"]["schema"]["maxLength"] == 2000
    for path in ("/search", "/documents"):
        filters = next(p for p in document["paths"][path]["get"]["parameters"] if p["name"] == "filters")
        assert "schema" not in filters  # a SearchFilter sent as JSON, not any string
        assert filters["content"] == {"application/json": {"schema": {"$ref": "#/components/schemas/SearchFilter"}}}


@pytest.mark.parametrize(
    ("component", "prop", "constraint"),
    [
        ("DocumentUpload", "metadata", {"propertyNames": {"maxLength": 100, "minLength": 1}, "maxProperties": 50}),
        ("DocumentUpload", "tags", {"items": {"maxLength": 200}}),
        ("SearchFilter", "metadata", {"maxProperties": 32}),
        ("GoldQuestion", "min_f1", {"minimum": 0.0}),
    ],
)
def test_the_schema_states_what_msgspec_enforces_and_litestar_left_out(
    client: TestClient[Litestar], component: str, prop: str, constraint: dict[str, Any]
) -> None:
    stated = constraints_of(openapi(client)["components"]["schemas"][component]["properties"][prop])
    assert {key: stated.get(key) for key in constraint} == constraint

