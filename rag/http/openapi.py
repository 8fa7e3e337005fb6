"""The OpenAPI document: its config, the problem responses each route documents, one schema fix,
and the API docs page.

The docs page is Swagger UI at ``/schema`` (and ``/schema/swagger``), its scripts, style sheet
and icon served by this app from the ``swagger-ui-bundle-v2`` package (``DOCS_ASSETS``): a docs
page that loads code from a public CDN is blank offline and runs whatever the CDN serves. The
other renderers Litestar offers (ReDoc, Elements, RapiDoc) load from CDNs and are left out.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from litestar import Router
from litestar._openapi.schema_generation import SchemaCreator
from litestar._openapi.schema_generation.plugins.struct import StructSchemaPlugin
from litestar.openapi import OpenAPIConfig, ResponseSpec
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.openapi.spec import Components, Schema, SecurityScheme
from litestar.static_files import create_static_files_router
from litestar.typing import FieldDefinition
from swagger_ui_bundle import swagger_ui_path

from rag import __version__
from rag.http.schemas import Problem

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


class StrictStructSchema(StructSchemaPlugin):
    """OpenAPI for msgspec structs that also says when unknown fields are refused.

    Litestar's own plugin omits ``additionalProperties: false`` for ``forbid_unknown_fields``
    structs, so the schema allowed bodies the server rejects (found by schemathesis).
    """

    def to_openapi_schema(self, field_definition: FieldDefinition, schema_creator: SchemaCreator) -> Schema:
        schema = super().to_openapi_schema(field_definition, schema_creator)
        if field_definition.type_.__struct_config__.forbid_unknown_fields:
            schema.additional_properties = False
        return schema


DOCS_ASSETS = "/schema-assets"  # Swagger UI's files, from the package (outside /schema, which the docs own)


def openapi_config() -> OpenAPIConfig:
    swagger = SwaggerRenderPlugin(
        js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
        css_url=f"{DOCS_ASSETS}/swagger-ui.css",
        standalone_preset_js_url=f"{DOCS_ASSETS}/swagger-ui-standalone-preset.js",
        favicon=f"<link rel='icon' type='image/png' href='{DOCS_ASSETS}/favicon-32x32.png'>",
        path=["/", "/swagger"],
    )
    return OpenAPIConfig(
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
