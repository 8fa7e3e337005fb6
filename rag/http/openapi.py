"""The OpenAPI document: its config, the problem responses each route documents, the rules the
generated schemas leave out, and the API docs page.

The schema states what the server accepts, so that a client (or schemathesis) that keeps to it is
never refused for its input, and one that strays is. Litestar's schemas of the request structs
leave out what the engine checks itself, with a plain 422 (a question's characters and length, an
upload's file name and text), and rules across fields (a gold line's kind); ``StrictOpenAPI``
adds them (``documented_rules``), from the patterns the checks are written against.

The docs page is Swagger UI at ``/schema`` (and ``/schema/swagger``), its scripts, style sheet
and icon served by this app from the ``swagger-ui-bundle-v2`` package (``DOCS_ASSETS``): a docs
page that loads code from a public CDN is blank offline and runs whatever the CDN serves. The
other renderers Litestar offers (ReDoc, Elements, RapiDoc) load from CDNs and are left out.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import msgspec
from litestar import Router
from litestar.openapi import OpenAPIConfig, ResponseSpec
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.openapi.spec import Components, OpenAPI, SecurityScheme
from litestar.static_files import create_static_files_router
from swagger_ui_bundle import swagger_ui_path

from rag import __version__
from rag.engine.service import QUESTION_PATTERN
from rag.engine.updates import FILENAME_PATTERN, MAX_DOC_ID_CHARS, NAMING_FILENAME_PATTERN, TEXT_PATTERN
from rag.http.schemas import UNANSWERABLE, AskRequest, DocumentUpload, GoldQuestion, Problem

PROBLEM = "application/problem+json"
API_KEY_HEADER = "X-API-Key"


def problem_spec(description: str) -> ResponseSpec:
    return ResponseSpec(data_container=Problem, media_type=PROBLEM, description=description, generate_examples=False)


COMMON_ERRORS: dict[int, ResponseSpec] = {
    400: problem_spec("The request could not be read as HTTP (malformed, or a request line or headers too long)"),
    429: problem_spec("Over the rate limit; see Retry-After"),
    500: problem_spec("A bug; the detail names an error id to look up in the server log"),
    503: problem_spec("Not loaded yet, out of time, or the disk or the file descriptors failed"),
}
AUTH_ERRORS = {
    401: problem_spec("Missing or wrong API key (when the endpoint needs one)"),
    403: problem_spec("The endpoint needs an API key but none is configured"),
}
READ_ERRORS = {**COMMON_ERRORS, **AUTH_ERRORS, 400: problem_spec("The request does not match the schema")}
ADMIN_ERRORS = {**COMMON_ERRORS, **AUTH_ERRORS, 429: problem_spec("Over the rate limit, or the write queue is full")}
WRITE_ERRORS = {
    **READ_ERRORS,
    409: problem_spec("?wait=true: the job was cancelled meanwhile"),
    429: problem_spec("Over the rate limit, or the write queue is full; see Retry-After"),
    503: problem_spec("Not loaded yet, out of time, or a folder is read-only"),
    507: problem_spec("The corpus holds its limit of documents or characters, or no space is left for the new build"),
}


def errors(extra: Mapping[int, str] | None = None) -> dict[int, ResponseSpec]:
    return {**READ_ERRORS, **{code: problem_spec(text) for code, text in (extra or {}).items()}}


# Every struct a route takes as its body. Litestar's schemas of msgspec structs omit
# ``additionalProperties: false`` for ``forbid_unknown_fields`` structs, so the schema allowed
# bodies the server rejects (found by schemathesis); msgspec's own JSON Schema says which refuse.
REQUEST_BODIES = (AskRequest, DocumentUpload, GoldQuestion)


def refusing_unknown_fields(types: tuple[type[msgspec.Struct], ...]) -> frozenset[str]:
    """The component names (``types`` and the structs they hold) that refuse unknown fields."""
    _, components = msgspec.json.schema_components(types)
    return frozenset(name for name, schema in components.items() if schema.get("additionalProperties") is False)


STRICT_SCHEMAS = refusing_unknown_fields(REQUEST_BODIES)

# Constraints msgspec enforces that Litestar's schemas leave out (a float's minimum of 0.0, an
# object's maxProperties and propertyNames, an array item's maxLength), found by schemathesis as
# schema-valid bodies refused with 400: copied from msgspec's own JSON Schema of the bodies.
CONSTRAINTS = frozenset({
    "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "minLength", "maxLength", "pattern", "minItems",
    "maxItems", "minProperties", "maxProperties", "propertyNames",
})  # fmt: skip


def constraints_of(schema: dict[str, Any]) -> dict[str, Any]:
    """The constraints of a property's schema, whichever branch of ``anyOf``/``oneOf`` holds them;
    under ``items``, those of its items."""
    found: dict[str, Any] = {}
    for key, value in schema.items():
        if key in ("anyOf", "oneOf"):
            for branch in value:
                found = {**constraints_of(branch), **found}
        elif key in CONSTRAINTS:
            found[key] = value
        elif key == "items" and isinstance(value, dict) and constraints_of(value):
            found["items"] = constraints_of(value)
    return found


def enforced_constraints(types: tuple[type[msgspec.Struct], ...]) -> dict[str, dict[str, dict[str, Any]]]:
    """Component -> property -> the constraints msgspec enforces on it."""
    _, components = msgspec.json.schema_components(types)
    return {
        name: {prop: found for prop, sub in schema.get("properties", {}).items() if (found := constraints_of(sub))}
        for name, schema in components.items()
    }


ENFORCED = enforced_constraints(REQUEST_BODIES)
_, MSGSPEC_COMPONENTS = msgspec.json.schema_components(REQUEST_BODIES)
# Properties whose constraints sit deeper than ``constraints_of`` copies (a metadata value's 64-bit
# integer bounds, under additionalProperties and a union): msgspec's own schema of the property,
# which is what it enforces, replaces Litestar's whole.
WHOLE_FROM_MSGSPEC = (("DocumentUpload", "metadata"), ("SearchFilter", "metadata"))


def documented_rules(max_question_chars: int) -> dict[str, dict[str, Any]]:
    """What to add to each component's schema: its properties' constraints, and rules across
    properties (JSON Schema ``if``/``then``/``else``)."""
    question = {"pattern": QUESTION_PATTERN, "maxLength": max_question_chars}
    doc_id_given = {"required": ["doc_id"], "properties": {"doc_id": {"type": "string"}}}
    naming = {"type": "string", "pattern": NAMING_FILENAME_PATTERN, "maxLength": MAX_DOC_ID_CHARS}
    unanswerable = {"required": ["kind"], "properties": {"kind": {"const": UNANSWERABLE}}}
    return {
        "AskRequest": {"properties": {"question": question}},
        "DocumentUpload": {
            "properties": {"filename": {"pattern": FILENAME_PATTERN}, "text": {"pattern": TEXT_PATTERN}},
            # Without a doc_id the file name gives the id: it must be there and make a valid one.
            "if": doc_id_given,
            "else": {"required": ["filename"], "properties": {"filename": naming}},
        },
        "GoldQuestion": {
            "if": unanswerable,
            "then": {"properties": {"answers": {"maxItems": 0}, "evidence": {"maxItems": 0}}},
            "else": {"properties": {"answers": {"minItems": 1}}},
        },
    }


def query_rules(max_question_chars: int) -> dict[str, dict[str, Any]]:
    """Query parameters by name: ``q`` is a question; ``filters`` is a ``SearchFilter`` as JSON,
    which OpenAPI says with ``content`` in place of ``schema``."""
    filters = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/SearchFilter"}}}}
    return {"q": {"schema": {"pattern": QUESTION_PATTERN, "maxLength": max_question_chars}}, "filters": filters}


def with_rules(document: dict[str, Any], max_question_chars: int) -> dict[str, Any]:
    """``document`` (as JSON) with ``documented_rules`` and ``query_rules`` added; a component or
    property they name that is missing is an error, never a constraint dropped silently."""
    schemas = document["components"]["schemas"]
    for name, properties in ENFORCED.items():
        for prop, constraints in properties.items():
            stated = constraints_of(schemas[name]["properties"][prop])
            missing = {key: value for key, value in constraints.items() if key not in stated}
            if "items" in missing and "items" in stated:  # the items have a schema: add to it what it lacks
                missing["items"] = {k: v for k, v in missing["items"].items() if k not in stated["items"]}
            schemas[name]["properties"][prop].update(missing)
    for name, prop in WHOLE_FROM_MSGSPEC:
        schemas[name]["properties"][prop] = MSGSPEC_COMPONENTS[name]["properties"][prop]
    for name, rules in documented_rules(max_question_chars).items():
        if name not in schemas:
            raise RuntimeError(f"no OpenAPI component {name!r} to document")
        schema = schemas[name]
        for prop, constraints in rules.get("properties", {}).items():
            if prop not in schema.get("properties", {}):
                raise RuntimeError(f"no property {prop!r} in OpenAPI component {name!r}")
            schema["properties"][prop].update(constraints)
        schema.update({key: value for key, value in rules.items() if key != "properties"})
    parameters = query_rules(max_question_chars)
    for operation in (op for path in document.get("paths", {}).values() for op in path.values()):
        for parameter in operation.get("parameters", []) if isinstance(operation, dict) else []:
            rule = parameters.get(parameter["name"]) if parameter.get("in") == "query" else None
            if rule and "content" in rule:
                parameter.pop("schema", None)
                parameter.update(rule)
            elif rule:
                parameter["schema"].update(rule["schema"])
    return document


@dataclasses.dataclass
class StrictOpenAPI(OpenAPI):
    """The document, with ``additionalProperties: false`` on the schemas of ``STRICT_SCHEMAS``
    and the rules of ``with_rules``."""

    max_question_chars: int = 2000  # answering.max_question_chars, for the schema of a question

    def to_schema(self) -> dict[str, Any]:
        schemas = self.components.schemas or {}
        missing = STRICT_SCHEMAS - set(schemas)
        if missing:  # Litestar named a component otherwise: never drop the constraint silently
            raise RuntimeError(f"no OpenAPI component for {sorted(missing)}")
        for name in STRICT_SCHEMAS:
            schemas[name].additional_properties = False
        document = super().to_schema()
        document.pop("maxQuestionChars")  # a setting of this class, not a field of the document
        return with_rules(document, self.max_question_chars)


@dataclasses.dataclass
class StrictOpenAPIConfig(OpenAPIConfig):
    """Litestar's config, making a ``StrictOpenAPI`` document (public API only: no schema plugin,
    whose interface is typed with Litestar's private schema creator)."""

    max_question_chars: int = 2000

    def to_openapi_schema(self) -> OpenAPI:
        document = super().to_openapi_schema()
        fields = {f.name: getattr(document, f.name) for f in dataclasses.fields(document) if f.init}
        return StrictOpenAPI(**fields, max_question_chars=self.max_question_chars)


DOCS_ASSETS = "/schema-assets"  # Swagger UI's files, from the package (outside /schema, which the docs own)


def openapi_config(max_question_chars: int) -> OpenAPIConfig:
    swagger = SwaggerRenderPlugin(
        js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
        css_url=f"{DOCS_ASSETS}/swagger-ui.css",
        standalone_preset_js_url=f"{DOCS_ASSETS}/swagger-ui-standalone-preset.js",
        favicon=f"<link rel='icon' type='image/png' href='{DOCS_ASSETS}/favicon-32x32.png'>",
        path=["/", "/swagger"],
    )
    return StrictOpenAPIConfig(
        title="rag: cited question answering",
        version=__version__,
        components=Components(
            security_schemes={"apiKey": SecurityScheme(type="apiKey", name=API_KEY_HEADER, security_scheme_in="header")}
        ),
        render_plugins=[swagger],
        max_question_chars=max_question_chars,
    )


def docs_assets() -> Router:
    """Swagger UI's scripts, style sheet and icons, as the installed package ships them."""
    return create_static_files_router(
        path=DOCS_ASSETS, directories=[Path(str(swagger_ui_path))], include_in_schema=False, name="docs-assets"
    )
