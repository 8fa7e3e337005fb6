"""What the HTTP API says about itself agrees with what it does (issue 12, items 11, 12 and 15):
``OPTIONS`` lists every method of a path; the schema holds the bounds the server enforces, and
one kind of mistake gets one status; integers are integers; the docs pages load nothing from
another host; every response says ``nosniff``; a seed linked from outside is not served."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from rag.config import Settings
from tests.conftest import tuned

Q = "What does Moscow insist Ukraine must do?"
DOC = "us-ukraine-russia-negotiations"


# -- item 11: Allow names every method of the path ------------------------------------------------


@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        ("/documents", "GET, OPTIONS, POST"),
        (f"/documents/{DOC}", "DELETE, GET, OPTIONS"),
        ("/admin/reindex", "GET, OPTIONS, POST"),
        ("/ask", "OPTIONS, POST"),
    ],
)
def test_options_allows_every_method_of_the_path(
    read_only_client: TestClient[Litestar], path: str, allowed: str
) -> None:
    response = read_only_client.options(path)
    assert response.status_code == 204 and response.headers["allow"] == allowed


def test_options_agrees_with_the_schema_on_every_path(read_only_client: TestClient[Litestar]) -> None:
    paths = read_only_client.get("/schema/openapi.json").json()["paths"]
    for path, operations in paths.items():
        concrete = re.sub(r"\{[^}]+\}", DOC, path)
        allowed = read_only_client.options(concrete).headers["allow"].split(", ")
        assert sorted(allowed) == sorted({method.upper() for method in operations} | {"OPTIONS"}), path


# -- item 12: the schema holds the bounds; integers only; one status for one kind of error ---------


def schema_bounds(client: TestClient[Litestar]) -> tuple[dict[str, Any], dict[str, Any]]:
    schema = client.get("/schema/openapi.json").json()
    top_k = schema["components"]["schemas"]["AskRequest"]["properties"]["top_k"]
    (k,) = [p["schema"] for p in schema["paths"]["/search"]["get"]["parameters"] if p["name"] == "k"]
    return top_k, k


@pytest.mark.parametrize("limit", [50, 7])
def test_the_schema_states_the_configured_bounds_of_top_k_and_k(
    make_client: Callable[..., TestClient[Litestar]], settings: Settings, limit: int
) -> None:
    client = make_client(tuned(settings, retrieval={"max_top_k": limit, "top_k": 5}, rate_limit={"enabled": False}))
    for bounds in schema_bounds(client):
        assert (bounds["minimum"], bounds["maximum"]) == (1, limit)
    assert client.post("/ask", json={"question": Q, "top_k": limit}).status_code == 200
    assert client.get("/search", params={"q": Q, "k": limit}).status_code == 200
    for beyond in (0, limit + 1):  # either side of the range: the same status, from the schema
        asked = client.post("/ask", json={"question": Q, "top_k": beyond})
        searched = client.get("/search", params={"q": Q, "k": beyond})
        assert (asked.status_code, searched.status_code) == (400, 400)
        assert "top_k Expected `int`" in asked.json()["detail"]
        assert " k Expected `int`" in searched.json()["detail"] and "top_k" not in searched.json()["detail"]


@pytest.mark.parametrize(
    ("top_k", "got"), [("5", "got `str`"), ("3.0", "got `str`"), (2.5, "got `float`"), (True, "got `bool`")]
)
def test_top_k_must_be_a_json_integer(read_only_client: TestClient[Litestar], top_k: object, got: str) -> None:
    response = read_only_client.post("/ask", json={"question": Q, "top_k": top_k})
    assert response.status_code == 400 and f"top_k Expected `int | null`, {got}" in response.json()["detail"]


def test_a_number_without_a_fraction_is_an_integer_as_json_schema_says(read_only_client: TestClient[Litestar]) -> None:
    """JSON Schema's ``integer`` admits 3.0 (schemathesis sends it as valid data): so does the server."""
    response = read_only_client.post("/ask", json={"question": Q, "top_k": 3.0})
    assert response.status_code == 200 and len(response.json()["passages"]) == 3


@pytest.mark.parametrize("k", ["1e3", "1e1", "5.0", "+5", " 5", "0x5", "５"])
def test_k_must_be_written_as_an_integer(read_only_client: TestClient[Litestar], k: str) -> None:
    response = read_only_client.get("/search", params={"q": Q, "k": k})
    assert response.status_code == 400 and "k Expected `int`" in response.json()["detail"]


@pytest.mark.parametrize("params", [{"start": "1e1", "end": "20"}, {"start": "0", "end": "2e1"}, {"context": "1.0"}])
def test_span_offsets_must_be_written_as_integers(
    read_only_client: TestClient[Litestar], params: dict[str, str]
) -> None:
    query = {"start": "0", "end": "20", **params}
    response = read_only_client.get(f"/documents/{DOC}/spans", params=query)
    assert response.status_code == 400 and "Expected `int`" in response.json()["detail"]


def test_the_document_page_takes_integer_offsets_only(read_only_client: TestClient[Litestar]) -> None:
    assert read_only_client.get(f"/ui/documents/{DOC}", params={"start": "1e1", "end": "20"}).status_code == 400
    assert read_only_client.get(f"/ui/documents/{DOC}", params={"start": "10", "end": "20"}).status_code == 200


def test_plain_integers_still_work(read_only_client: TestClient[Litestar]) -> None:
    assert read_only_client.post("/ask", json={"question": Q, "top_k": 3}).status_code == 200
    assert len(read_only_client.get("/search", params={"q": Q, "k": "3"}).json()["passages"]) == 3
    span = read_only_client.get(f"/documents/{DOC}/spans", params={"start": "0", "end": "9", "context": "0"})
    seed = (Path(__file__).resolve().parent.parent / "seeds" / f"{DOC}.txt").read_text(encoding="utf-8")
    assert span.status_code == 200 and span.json()["text"] == seed[:9]


# -- item 15: docs served locally; nosniff everywhere; seeds linked from outside ------------------

DOCS_PAGES = ["/schema", "/schema/swagger", "/schema/redoc", "/schema/elements", "/schema/rapidoc"]


def test_no_docs_page_loads_anything_from_another_host(read_only_client: TestClient[Litestar]) -> None:
    served = 0
    for page in DOCS_PAGES:
        response = read_only_client.get(page)
        if response.status_code == 404:  # a CDN-based renderer, left out
            continue
        assert response.status_code == 200, page
        served += 1
        html = response.text
        assert not re.search(r"(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}", html, re.I), (page, html[:500])
        assets = re.findall(r"""(?:src|href)=["']([^"']+)["']""", html)
        assert assets, page
        for asset in assets:  # everything the page loads, the app serves
            fetched = read_only_client.get(asset)
            assert fetched.status_code == 200 and fetched.content, asset
    assert served >= 2  # /schema and /schema/swagger: Swagger UI


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/health"),
        ("GET", "/ready"),
        ("GET", "/documents"),
        ("GET", f"/documents/{DOC}"),
        ("GET", "/search?q=Kyiv"),
        ("POST", "/ask"),
        ("GET", "/schema/openapi.json"),
        ("GET", "/schema"),
        ("GET", "/schema-assets/swagger-ui.css"),
        ("GET", "/static/app.js"),
        ("GET", "/metrics"),
        ("OPTIONS", "/ask"),
        ("GET", "/nope"),
        ("DELETE", "/ask"),
    ],
)
def test_every_response_says_nosniff(read_only_client: TestClient[Litestar], method: str, path: str) -> None:
    kwargs: dict[str, Any] = {"json": {"question": Q}} if method == "POST" else {}
    response = read_only_client.request(method, path, **kwargs)
    assert response.headers["x-content-type-options"] == "nosniff", (response.status_code, response.headers)


def test_a_seed_linked_from_outside_the_folder_is_not_served(
    make_client: Callable[..., TestClient[Litestar]], settings: Settings, tmp_path: Path
) -> None:
    private = tmp_path / "private"
    private.mkdir()
    (private / "secret.txt").write_text("The vault code is 4711. The vault is under the lighthouse.\n")
    seeds = Path(settings.paths.seeds)
    (seeds / "secret.txt").symlink_to(private / "secret.txt")
    shutil.copy(seeds / f"{DOC}.txt", private / "copy.txt")
    (seeds / "inside-alias.txt").symlink_to(seeds / f"{DOC}.txt")  # a link inside the folder is served
    client = make_client()
    served = {d["doc_id"] for d in client.get("/documents").json()}
    assert served == {DOC, "inside-alias"}
    assert client.get("/documents/secret").status_code == 404
    passages = client.get("/search", params={"q": "vault code lighthouse", "k": 5}).json()["passages"]
    assert all(p["doc_id"] != "secret" for p in passages)


def test_filters_is_a_json_filter_object_or_absent(read_only_client: TestClient[Litestar]) -> None:
    """The schema says ``filters`` is a SearchFilter as JSON: an empty value is not one (schemathesis
    sends it as invalid data), ``{}`` filters nothing, and so does leaving it out."""
    assert read_only_client.get("/search", params={"q": "Ukraine", "filters": "{}"}).status_code == 200
    assert read_only_client.get("/documents", params={"filters": "{}"}).status_code == 200
    assert read_only_client.get("/documents").status_code == 200
    for malformed in ("", "{", "null", "[]"):
        assert read_only_client.get("/search", params={"q": "Ukraine", "filters": malformed}).status_code == 422
        assert read_only_client.get("/documents", params={"filters": malformed}).status_code == 422



def test_a_query_parameter_given_twice_is_refused(read_only_client: TestClient[Litestar]) -> None:
    """Every query parameter takes one value: schemathesis sent ?collection=a&collection=b as
    schema-violating data, and the server had used one of the two."""
    twice = read_only_client.get("/search?q=Ukraine&collection=a&collection=b")
    assert twice.status_code == 400 and "'collection' is given more than once" in twice.json()["detail"]
    assert read_only_client.get("/search?q=Ukraine&collection=a").status_code == 200
