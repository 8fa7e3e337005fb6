"""The OpenAPI document: its config, the problem responses each route documents, one schema fix,
and the API docs page.

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
from rag.eval.gold import GoldLine
from rag.http.schemas import AskRequest, DocumentUpload, Problem

PROBLEM = "application/problem+json"
API_KEY_HEADER = "X-API-Key"


def problem_spec(description: str) -> ResponseSpec:
    return ResponseSpec(data_container=Problem, media_type=PROBLEM, description=description, generate_examples=False)


COMMON_ERRORS: dict[int, ResponseSpec] = {
    429: problem_spec("Over the rate limit; see Retry-After"),
    500: problem_spec("A bug; the detail names an error id to look up in the server log"),
    503: problem_spec("Not loaded yet, out of time, or the disk or the file descriptors failed"),
}
AUTH_ERRORS = {
    401: problem_spec("Missing or wrong API key (when the endpoint needs one)"),
    403: problem_spec("The endpoint needs an API key but none is configured"),
}
READ_ERRORS = {**COMMON_ERRORS, **AUTH_ERRORS, 400: problem_spec("The request does not match the schema")}
ADMIN_ERRORS = {**COMMON_ERRORS, **AUTH_ERRORS}
WRITE_ERRORS = {
    **READ_ERRORS,
    409: problem_spec("?wait=true: the job was cancelled meanwhile"),
    503: problem_spec("The write queue is full (see Retry-After), not loaded yet, or a folder is read-only"),
    507: problem_spec("The corpus holds its limit of documents or characters, or no space is left for the new build"),
}


def errors(extra: Mapping[int, str] | None = None) -> dict[int, ResponseSpec]:
    return {**READ_ERRORS, **{code: problem_spec(text) for code, text in (extra or {}).items()}}


# Every struct a route takes as its body. Litestar's schemas of msgspec structs omit
# ``additionalProperties: false`` for ``forbid_unknown_fields`` structs, so the schema allowed
# bodies the server rejects (found by schemathesis); msgspec's own JSON Schema says which refuse.
REQUEST_BODIES = (AskRequest, DocumentUpload, GoldLine)


def refusing_unknown_fields(types: tuple[type[msgspec.Struct], ...]) -> frozenset[str]:
    """The component names (``types`` and the structs they hold) that refuse unknown fields."""
    _, components = msgspec.json.schema_components(types)
    return frozenset(name for name, schema in components.items() if schema.get("additionalProperties") is False)


STRICT_SCHEMAS = refusing_unknown_fields(REQUEST_BODIES)


@dataclasses.dataclass
class StrictOpenAPI(OpenAPI):
    """The document, with ``additionalProperties: false`` on the schemas of ``STRICT_SCHEMAS``."""

    def to_schema(self) -> dict[str, Any]:
        schemas = self.components.schemas or {}
        missing = STRICT_SCHEMAS - set(schemas)
        if missing:  # Litestar named a component otherwise: never drop the constraint silently
            raise RuntimeError(f"no OpenAPI component for {sorted(missing)}")
        for name in STRICT_SCHEMAS:
            schemas[name].additional_properties = False
        return super().to_schema()


@dataclasses.dataclass
class StrictOpenAPIConfig(OpenAPIConfig):
    """Litestar's config, making a ``StrictOpenAPI`` document (public API only: no schema plugin,
    whose interface is typed with Litestar's private schema creator)."""

    def to_openapi_schema(self) -> OpenAPI:
        document = super().to_openapi_schema()
        return StrictOpenAPI(**{f.name: getattr(document, f.name) for f in dataclasses.fields(document) if f.init})


DOCS_ASSETS = "/schema-assets"  # Swagger UI's files, from the package (outside /schema, which the docs own)


def openapi_config() -> OpenAPIConfig:
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
    )


def docs_assets() -> Router:
    """Swagger UI's scripts, style sheet and icons, as the installed package ships them."""
    return create_static_files_router(
        path=DOCS_ASSETS, directories=[Path(str(swagger_ui_path))], include_in_schema=False, name="docs-assets"
    )
