"""The open data as QGIS reads it: OWSLib's OGC API - Features client against the app served
by uvicorn on 127.0.0.1, over the suite's database (with the road network). It lists the
collections, reads items in a bounding box, and gets the public fields only: a private field,
or a note, never appears."""

import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import strategies as st
from owslib.ogcapi.features import Features

from app.kit.local_time import brussels_today
from app.listings.offers import OfferPublicFields
from app.listings.requests import RequestPublicFields
from app.main import create_app
from app.ogc.mount import open_data_app
from app.ogc.open_fields import OPEN_OFFER_FIELDS, OPEN_REQUEST_FIELDS
from tests.conftest import (
    ADMIN_TOKEN,
    connect_raw,
    offer_body,
    point,
    request_body,
    settings_for,
)
from tests.live_server import Served
from tests.test_security_open_data import leaked

# A corner of the Forêt de Soignes no other test places anything in.
INSIDE = [4.4310, 50.7810]
ALSO_INSIDE = [4.4330, 50.7820]
OUTSIDE = [4.4600, 50.7700]
BBOX = [4.4300, 50.7800, 4.4340, 50.7830]
# A month the Region reads here, and so publishes: one commune feature per commune per month.
PUBLISHED_MONTH = "2024-02"
COLLECTIONS = {
    "ogc.offers",
    "ogc.requests",
    "ogc.hubs",
    "ogc.communes",
    "ogc.roads",
    "ogc.districts",
}
OFFER_FIELDS = set(OPEN_OFFER_FIELDS)
REQUEST_FIELDS = set(OPEN_REQUEST_FIELDS)
PRIVATE = {"notes", "site_id", "organization_id", "price_per_unit", "max_price_per_unit"}


# Schemathesis over tipg's own document, the collection ids those of the views more often
# than not: no query, however wrong, answers a server error.
FUZZ = schemathesis.openapi.from_dict(
    open_data_app(settings_for("postgresql+asyncpg://127.0.0.1/unused"))[0].openapi(),
    config=schemathesis.Config.from_dict(
        {
            "seed": 17,
            "suppress-health-check": ["too_slow", "filter_too_much", "data_too_large"],
            "generation": {
                "mode": "all",
                "max-examples": 12,
                "deterministic": True,
                "database": "none",
            },
            "checks": {"enabled": False, "not_a_server_error": {"enabled": True}},
        }
    ),
)


@FUZZ.hook
def flatmap_path_parameters(context: schemathesis.HookContext, parameters: Any) -> Any:
    if isinstance(parameters, dict) and "collectionId" in parameters:
        return st.sampled_from([*sorted(COLLECTIONS), parameters["collectionId"]]).map(
            lambda collection: {**parameters, "collectionId": collection}
        )
    return st.just(parameters)


class OpenData:
    def __init__(self, served: Served, http: httpx.Client) -> None:
        self.url = f"{served.url}/ogc"
        self.http = http
        self.secret = f"gate code {uuid.uuid4().hex[:8]}"
        self.ids: dict[str, str] = {}

    def organization(self, *roles: str) -> dict[str, str]:
        made = self.http.post(
            "/v1/organizations",
            json={"name": f"ogc-{uuid.uuid4().hex[:6]}", "roles": list(roles)},
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        )
        assert made.status_code == 201, made.text
        return {"Authorization": f"Bearer {made.json()['api_key']}"}

    def post(self, path: str, body: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:
        response = self.http.post(path, json=body, headers=headers)
        assert response.status_code in (200, 201), response.text
        answer: dict[str, Any] = response.json()
        return answer


@pytest.fixture(scope="module")
def open_data(database_url: str) -> Iterator[OpenData]:
    with (
        Served(create_app(settings_for(database_url))) as served,
        # The first read of the statistics publishes their months: slow on a loaded machine.
        httpx.Client(base_url=served.url, timeout=60) as http,
    ):
        data = OpenData(served, http)
        company = data.organization("supplier", "consumer", "hub_operator")
        site = data.post(
            "/v1/sites",
            {"name": "Dépôt", "kind": "production", "location": point(INSIDE)},
            company,
        )
        for name, where in (("inside", INSIDE), ("also_inside", ALSO_INSIDE), ("outside", OUTSIDE)):
            body = offer_body(
                location=point(where),
                title=f"Tuiles {name}",
                notes=data.secret,
                price_per_unit=12.5,
                material="170103",
            )
            data.ids[f"offer_{name}"] = data.post("/v1/offers", body, company)["id"]
        at_site = offer_body(site_id=site["id"], title="Tuiles au dépôt", notes=data.secret)
        at_site.pop("location")
        data.ids["offer_at_site"] = data.post("/v1/offers", at_site, company)["id"]
        closed = data.post("/v1/offers", offer_body(location=point(INSIDE)), company)
        withdrawn = http.delete(f"/v1/offers/{closed['id']}", headers=company)
        assert withdrawn.status_code == 204, withdrawn.text
        data.ids["offer_withdrawn"] = closed["id"]
        wanted = request_body(location=point(ALSO_INSIDE), notes=data.secret, max_price_per_unit=3)
        data.ids["request_inside"] = data.post("/v1/requests", wanted, company)["id"]
        yard = data.post(
            "/v1/sites", {"name": "Parc test", "kind": "yard", "location": point(INSIDE)}, company
        )
        data.ids["yard"] = yard["id"]
        observer = data.organization("observer")
        read = http.get(
            "/v1/stats/flows",
            params={"from": PUBLISHED_MONTH, "to": PUBLISHED_MONTH},
            headers=observer,
        )
        assert read.status_code == 200, read.text
        # Published by its operator, with its stock rounded to the tonne (the default).
        put = http.put(
            f"/v1/hubs/{yard['id']}",
            json={"capacity": {"t": 10}, "public": True},
            headers=company,
        )
        assert put.status_code == 200, put.text
        data.post(
            f"/v1/hubs/{yard['id']}/movements",
            {
                "kind": "intake",
                "walk_in": "Chantier voisin",
                "material": "170201",
                "condition": "B",
                "quantity": {"value": 3.2, "unit": "t"},
                "note": data.secret,
            },
            company,
        )
        yield data


def test_the_collections_are_the_public_views_alone(open_data: OpenData) -> None:
    client = Features(open_data.url)
    assert set(client.feature_collections()) == COLLECTIONS
    conformance = client.conformance()["conformsTo"]
    assert any("ogcapi-features-1/1.0/conf/core" in c for c in conformance)
    assert any("geojson" in c for c in conformance)


def test_items_in_a_bbox_with_their_public_fields_only(open_data: OpenData) -> None:
    client = Features(open_data.url)
    offers = client.collection_items("ogc.offers", bbox=BBOX, limit=100)
    assert offers["type"] == "FeatureCollection"
    ids = [f["id"] for f in offers["features"]]
    # The corner's offers open to all, each once: the one outside and the one withdrawn (not
    # open data) are not among them.
    assert sorted(ids) == sorted(
        open_data.ids[name] for name in ("offer_inside", "offer_also_inside", "offer_at_site")
    ), ids
    for feature in offers["features"]:
        assert set(feature["properties"]) == OFFER_FIELDS, feature["properties"]
        lon, lat = feature["geometry"]["coordinates"]
        assert BBOX[0] <= lon <= BBOX[2] and BBOX[1] <= lat <= BBOX[3]
    inside = next(f for f in offers["features"] if f["id"] == open_data.ids["offer_inside"])
    assert inside["properties"]["chapter"] == "17"
    assert inside["properties"]["chapter_title"].startswith("Construction and demolition")
    assert inside["properties"]["mass_kg"] == 12000

    requests = client.collection_items("ogc.requests", bbox=BBOX, limit=100)
    [request] = [f for f in requests["features"] if f["id"] == open_data.ids["request_inside"]]
    assert set(request["properties"]) == REQUEST_FIELDS
    assert request["properties"]["chapter"] == "17"

    hubs = client.collection_items("ogc.hubs", bbox=BBOX, limit=100)
    [yard] = [f for f in hubs["features"] if f["id"] == open_data.ids["yard"]]
    assert yard["properties"]["kind"] == "yard"
    # 3.2 t in stock, shown to the tonne, and the free room likewise.
    assert (yard["properties"]["capacity_t"], yard["properties"]["stock_t"]) == (10, 3)
    assert yard["properties"]["free_t"] == 7 and yard["properties"]["public_stock"] == "rounded"

    communes = client.collection_items("ogc.communes", limit=100, month=PUBLISHED_MONTH)
    assert len(communes["features"]) == 19
    assert {f["properties"]["month"] for f in communes["features"]} == {PUBLISHED_MONTH}
    assert {f["geometry"]["type"] for f in communes["features"]} <= {"Polygon", "MultiPolygon"}


def test_no_private_field_or_note_reaches_the_open_data(open_data: OpenData) -> None:
    for collection in COLLECTIONS - {"ogc.roads"}:
        answer = open_data.http.get(f"/ogc/collections/{collection}/items", params={"limit": 10000})
        assert answer.status_code == 200, answer.text
        assert open_data.secret not in answer.text, collection
        features = answer.json()["features"]
        # The fixture put something in each: the checks below have features to check.
        assert features, collection
        for feature in features:
            assert not PRIVATE & set(feature["properties"]), (collection, feature["properties"])
        # Nor does the collection's description of its fields name them.
        queryables = open_data.http.get(f"/ogc/collections/{collection}/queryables").json()
        assert not PRIVATE & set(queryables["properties"]), collection


async def test_open_listings_are_those_open_on_the_day_in_brussels_in_any_session_time_zone(
    open_data: OpenData, database_url: str
) -> None:
    company = open_data.organization("supplier")
    today = brussels_today()
    ends = {"today": today, "yesterday": today - timedelta(days=1)}
    ids = {
        name: open_data.post(
            "/v1/offers",
            offer_body(
                location=point(OUTSIDE),
                available_from=(today - timedelta(days=7)).isoformat(),
                available_until=last.isoformat(),
            ),
            company,
        )["id"]
        for name, last in ends.items()
    }
    connection = await connect_raw(database_url)
    try:
        # Fourteen hours ahead of UTC and twelve behind: at any hour, one of them is on another
        # day than Brussels.
        for zone in ("Etc/GMT-14", "Etc/GMT+12"):
            await connection.execute(f"SET TIME ZONE '{zone}'")
            shown = await connection.fetch(
                "SELECT id::text FROM ogc.offers WHERE id = ANY($1::uuid[])", list(ids.values())
            )
            assert [row["id"] for row in shown] == [ids["today"]], zone
    finally:
        await connection.close()


def test_every_link_of_the_landing_page_leads_within_the_open_data(open_data: OpenData) -> None:
    landing = open_data.http.get("/ogc/")
    assert landing.status_code == 200, landing.text
    links = landing.json()["links"]
    # Links to follow (templates aside: "{collectionId}"...), the service's description among
    # them.
    followed = [link for link in links if "{" not in link["href"]]
    assert "service-desc" in {link["rel"] for link in followed}, links
    for link in links:
        assert link["href"].startswith(f"{open_data.url}/"), link
    for link in followed:
        assert open_data.http.get(link["href"]).status_code == 200, link
    described = next(link["href"] for link in links if link["rel"] == "service-desc")
    document = open_data.http.get(described).json()
    assert "/collections" in document["paths"], sorted(document["paths"])
    assert not any(path.startswith("/v1/") for path in document["paths"])


def test_the_roads_come_as_vector_tiles_for_the_base_map(open_data: OpenData) -> None:
    tilejson = open_data.http.get("/ogc/collections/ogc.roads/tiles/WebMercatorQuad/tilejson.json")
    assert tilejson.status_code == 200
    [layer] = tilejson.json()["vector_layers"]
    assert tilejson.json()["tiles"][0].startswith(f"{open_data.url}/collections/ogc.roads/tiles/")
    assert {"class", "name"} <= set(layer["fields"])
    # The tile over the Grand-Place at zoom 14.
    tile = open_data.http.get("/ogc/collections/ogc.roads/tiles/WebMercatorQuad/14/8390/5496")
    assert tile.status_code == 200
    assert tile.headers["content-type"] == "application/vnd.mapbox-vector-tile"
    assert len(tile.content) > 1000


@FUZZ.parametrize()
def test_no_query_of_the_open_data_answers_a_server_error(
    case: schemathesis.Case, open_data: OpenData
) -> None:
    response = case.call(base_url=open_data.url, timeout=60)
    case.validate_response(response)
    assert not leaked(response.text), (case.path, response.text[:500])


async def test_the_open_data_waits_for_the_database_and_the_api_starts_without_it() -> None:
    # A port nothing listens on: the app starts, and /ogc says it cannot answer yet.
    app = create_app(settings_for("postgresql+asyncpg://postgres@127.0.0.1:9/boucle"))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client,
    ):
        assert (await client.get("/healthz")).status_code == 200
        away = await client.get("/ogc/collections")
        assert away.status_code == 503 and away.headers["retry-after"] == "5"
        assert away.headers["content-type"].startswith("application/problem+json")


def test_the_open_fields_are_public_fields_of_the_api_and_no_private_one() -> None:
    """What the open data shows is a part of what every organization may see through the
    API, and nothing an organization keeps to itself or to those it deals with."""
    for open_fields, public in (
        (OPEN_OFFER_FIELDS, OfferPublicFields),
        (OPEN_REQUEST_FIELDS, RequestPublicFields),
    ):
        assert set(open_fields.values()) <= set(public.model_fields)
        assert not set(open_fields) & (PRIVATE | {"description"})
