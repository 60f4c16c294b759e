"""The open data (/ogc) attacked as an outsider with no key would, over a live server: hostile
CQL2 filters (functions of every kind, subqueries, casts that leak values, sleeps, unknown and
private properties), each refused with a 400 that names the filter's rule before any SQL runs;
hostile path and query values on every route of the open data's own document (Schemathesis
over it is tests/test_ogc_api.py's, with the same check). No answer is a 5xx, and none carries
the database's words, its roles or the machine's name."""

import json
import socket
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from app.main import create_app
from app.ogc.mount import open_data_app
from tests.conftest import (
    ADMIN_TOKEN,
    create_database,
    load_reference,
    migrate,
    offer_body,
    request_body,
    settings_for,
)
from tests.live_server import Served

COLLECTIONS = ["ogc.offers", "ogc.requests", "ogc.hubs", "ogc.communes", "ogc.districts"]

# What would tell an outsider about the database or the machine.
LEAKS = [
    socket.gethostname(),
    "permission denied",
    # PostgreSQL's words for a missing column, relation or function (tipg's own 404 for an
    # item says "does not exist" of the item).
    '" does not exist',
    ") does not exist",
    "syntax error",
    "SQLSTATE",
    "boucle_ogc",
    "boucle_app",
    "boucle_owner",
    "postgres",
    "asyncpg",
    "Traceback",
    "relation ",
]

HOSTILE_FILTERS = {
    "a file read through a cast": "int4(pg_read_file('/etc/hostname'))=1",
    "a sleep": "pg_sleep(2) IS NULL",
    "any table as XML": "query_to_xml('select * from api_keys', true, true, '') IS NULL",
    "a server setting": "current_setting('data_directory') = 'x'",
    "the server's version": "version() LIKE '%'",
    "a harmless function": "lower(title) = 'x'",
    "a case-insensitive comparison": "CASEI(title) = CASEI('x')",
    "arithmetic": "quantity_value + 1 > 2",
    "a property the view has not": "organization_id = 'x'",
    "a private column of the table": "price_per_unit > 0",
    "a column of another table": "api_keys.key_hash = 'x'",
    "a property compared to a property the view has not": "title = notes",
    "a subquery": "title IN (SELECT title FROM offers)",
    "a cast that leaks a value": "CAST(title AS int) = 1",
    "an array operator": "A_CONTAINS(material, ('17'))",
    "a comment": "title = 'x' --",
    "a second statement": "title = 'x'; DROP TABLE offers",
    "a BBOX literal, which PostGIS cannot compare": "S_INTERSECTS(geom, BBOX(4.3, 50.8, 4.4, 50.9))",
}
HOSTILE_JSON_FILTERS: dict[str, Any] = {
    "a function": {"op": "pg_sleep", "args": [2]},
    "a function inside a comparison": {
        "op": "=",
        "args": [{"op": "version", "args": []}, "x"],
    },
    "a name that closes its quotes": {
        "op": "=",
        "args": [{"property": 'title" = title OR pg_sleep(2) IS NULL OR "x'}, "x"],
    },
    "a property with SQL beside it": {"op": "=", "args": [{"property": "title", "sql": "1"}, "x"]},
}
# What a filter may do, and what it finds among the seeded offers (the soil and the bricks).
ALLOWED_FILTERS = {
    "title = 'Excavated soil'": 1,
    "title LIKE '%soil%' OR title LIKE 'Bricks%'": 2,
    "quantity_value BETWEEN 1 AND 20 AND NOT (material = '170102')": 1,
    "material IN ('170504', '170102')": 2,
    "item_type IS NULL": 2,
    "S_INTERSECTS(geom, POLYGON((4.3 50.8, 4.4 50.8, 4.4 50.9, 4.3 50.9, 4.3 50.8)))": 2,
    "S_WITHIN(geom, POLYGON((4.3 50.8, 4.4 50.8, 4.4 50.9, 4.3 50.9, 4.3 50.8)))": 2,
    "S_DISJOINT(geom, POINT(4.0 50.0))": 2,
    "T_AFTER(available_until, DATE('2026-01-01'))": 2,
}

HOSTILE_VALUES = [
    "'",
    "' OR '1'='1",
    '" OR "1"="1',
    "1; SELECT pg_sleep(2)",
    "pg_sleep(2)",
    "public.api_keys",
    "<script>alert(1)</script>",
    "\x00",
    "../../../etc/passwd",
    "-1",
    "1e309",
    "NaN",
    "9" * 30,
    "{{7*7}}",
]
VALID_PATH_VALUES = {
    "collectionId": "ogc.offers",
    "tileMatrixSetId": "WebMercatorQuad",
    "z": "12",
    "x": "2097",
    "y": "1374",
}


@pytest.fixture(scope="module")
async def open_data_database_url(server_url: str) -> str:
    url = await create_database(server_url, "boucle_open_data_attacks")
    migrate(url)
    load_reference(url, "reference")
    return url


@pytest.fixture(scope="module")
def served(open_data_database_url: str) -> Iterator[Served]:
    with (
        Served(create_app(settings_for(open_data_database_url))) as server,
        httpx.Client(base_url=server.url, timeout=60) as client,
    ):
        created = client.post(
            "/v1/organizations",
            json={"name": "Attacked", "roles": ["supplier", "consumer"]},
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        )
        key = {"Authorization": f"Bearer {created.json()['api_key']}"}
        for body in (
            offer_body(price_per_unit=12.5),
            offer_body(material="170102", title="Bricks", quantity={"value": 3, "unit": "t"}),
            request_body(),
        ):
            path = "/v1/requests" if "needed_by" in body else "/v1/offers"
            assert client.post(path, json=body, headers=key).status_code == 201
        yield server


def leaked(text: str) -> list[str]:
    """What of LEAKS an answer's text holds."""
    return [leak for leak in LEAKS if leak in text]


def assert_nothing_leaked(response: httpx.Response) -> None:
    assert response.status_code < 500, (response.request.url, response.text[:500])
    assert not leaked(response.text), (response.request.url, response.text[:500])


def assert_filter_refused(response: httpx.Response, what: str) -> None:
    assert_nothing_leaked(response)
    assert response.status_code == 400, (what, response.text)
    assert response.headers["content-type"].startswith("application/problem+json")
    (error,) = response.json()["errors"]
    assert error["field"] == "filter" and error["rule"] in ("allowed_cql2", "cql2"), error


@pytest.mark.parametrize("collection", COLLECTIONS)
def test_a_hostile_filter_is_refused_before_it_runs(served: Served, collection: str) -> None:
    with httpx.Client(base_url=f"{served.url}/ogc", timeout=30) as client:
        for name, text in HOSTILE_FILTERS.items():
            response = client.get(f"/collections/{collection}/items", params={"filter": text})
            assert_filter_refused(response, name)
        for name, tree in HOSTILE_JSON_FILTERS.items():
            response = client.get(
                f"/collections/{collection}/items",
                params={"filter": json.dumps(tree), "filter-lang": "cql2-json"},
            )
            assert_filter_refused(response, name)


def test_a_function_name_is_refused_by_name(served: Served) -> None:
    response = httpx.get(
        f"{served.url}/ogc/collections/ogc.offers/items",
        params={"filter": "int4(pg_read_file('/etc/hostname'))=1"},
    )
    assert_filter_refused(response, "a cast")
    assert "`int4`" in response.json()["detail"]


def test_the_filters_the_open_data_documents_still_work(served: Served) -> None:
    with httpx.Client(base_url=f"{served.url}/ogc", timeout=30) as client:
        for text, found in ALLOWED_FILTERS.items():
            response = client.get("/collections/ogc.offers/items", params={"filter": text})
            assert response.status_code == 200, (text, response.text)
            assert response.json()["numberMatched"] == found, text


def test_sortby_and_properties_name_properties_of_the_collection(served: Served) -> None:
    with httpx.Client(base_url=f"{served.url}/ogc", timeout=30) as client:
        for parameter, value in (
            ("sortby", "-price_per_unit"),
            ("sortby", "title,(SELECT 1)"),
            ("properties", "title,organization_id"),
        ):
            response = client.get("/collections/ogc.offers/items", params={parameter: value})
            assert_nothing_leaked(response)
            assert response.status_code == 400
            assert response.json()["errors"][0]["field"] == parameter
        ordered = client.get("/collections/ogc.offers/items", params={"sortby": "-title"})
        titles = [f["properties"]["title"] for f in ordered.json()["features"]]
        assert titles == ["Excavated soil", "Bricks"]


def _get_operations() -> list[tuple[str, list[str], list[str]]]:
    """Each GET path of the open data's document, with its path and query parameters."""
    document = open_data_app(settings_for("postgresql+asyncpg://127.0.0.1/unused"))[0].openapi()
    operations = []
    for path, methods in document["paths"].items():
        get = methods.get("get")
        if get is None:
            continue
        parameters = get.get("parameters", [])
        operations.append(
            (
                path,
                [p["name"] for p in parameters if p["in"] == "path"],
                [p["name"] for p in parameters if p["in"] == "query"],
            )
        )
    return operations


OPERATIONS = _get_operations()


@pytest.mark.parametrize(
    ("path", "in_path", "in_query"), OPERATIONS, ids=[o[0] for o in OPERATIONS]
)
def test_hostile_values_in_every_place_of_every_route(
    served: Served, path: str, in_path: list[str], in_query: list[str]
) -> None:
    def fill(overrides: dict[str, str]) -> str:
        filled = path
        for name in in_path:
            value = overrides.get(name, VALID_PATH_VALUES.get(name, "x"))
            filled = filled.replace("{" + name + "}", quote(value, safe=""))
        return filled

    with httpx.Client(base_url=f"{served.url}/ogc", timeout=30) as client:
        for value in HOSTILE_VALUES:
            for name in in_path:
                assert_nothing_leaked(client.get(fill({name: value})))
            for name in in_query:
                assert_nothing_leaked(client.get(fill({}), params={name: value}))


def test_the_open_data_document_lists_routes_to_attack() -> None:
    paths = {path for path, _, _ in OPERATIONS}
    assert "/collections/{collectionId}/items" in paths
    assert any("/tiles/" in path for path in paths)
