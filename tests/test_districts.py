"""The shopping districts derived from the 2013 OSM extract (loaded once with the suite's
database): the demo's twelve shopping streets lie in them, each street in a district of its
own, named after its street; the API and the open data answer them; loading again changes
nothing."""

import csv
from typing import Any

import httpx
from fastapi import FastAPI

from app.districts.service import district_at
from app.settings import get_settings
from tests.conftest import OrgFactory, assert_problem, connect_raw, load_reference

DEMO_SITES = get_settings().shared_dir / "data" / "brussels" / "brussels_demo_sites.csv"
# How far a demo street's point may lie from its district: the point is the middle of the
# street's OSM geometry (`precision` in the CSV), not a shop.
REACH_M = 150
# Rue Vanderkindere's point is the middle of a 3.2 km street; the 2013 extract has four
# shopfronts within 400 m of it, too few and too far apart for a cluster.
NOT_IN_A_DISTRICT = {"shop-vanderkindere"}
# Measured: each of the other eleven streets lies in a district of its own.
DISTINCT_DISTRICTS = 11
# The district each street lies in is named after the street itself where its shops face it
# in the extract...
NAMED_AFTER = {
    "shop-rue-neuve": ("Rue Neuve - Nieuwstraat", "Rue Neuve", "Nieuwstraat", "21004"),
    "shop-flagey": ("Place Eugène Flagey", "Place Eugène Flagey", "Eugène Flageyplein", "21009"),
    "shop-brabant": ("Rue de Brabant - Brabantstraat", "Rue de Brabant", "Brabantstraat", "21015"),
    "shop-wayez": ("Rue Wayez - Wayezstraat", "Rue Wayez", "Wayezstraat", "21001"),
    "shop-marie-christine": (
        "Rue Marie-Christine - Maria-Christinastraat",
        "Rue Marie-Christine",
        "Maria-Christinastraat",
        "21004",
    ),
    "shop-jeu-de-balle": (
        "Place du Jeu de Balle - Vossenplein",
        "Place du Jeu de Balle",
        "Vossenplein",
        "21004",
    ),
}
# ... and elsewhere after the street beside it that most of its shopfronts face.
NAMED_AFTER_A_NEIGHBOUR = {
    "shop-dansaert": "Quai à la Houille - Steenkoolkaai",
    "shop-chaussee-ixelles": "Place Fernand Cocq - Fernand Cocqplein",
    "shop-bailli": "Place du Châtelain - Kasteleinplein",
    "shop-parvis-st-gilles": "Rue de l'Hôtel des Monnaies - Munthofstraat",
    "shop-place-dumon": "Rue de l'Église - Kerkstraat",
}
FORET_DE_SOIGNES = (4.4310, 50.7810)


def shopping_streets() -> dict[str, tuple[float, float]]:
    with DEMO_SITES.open(encoding="utf-8", newline="") as f:
        return {
            row["id"]: (float(row["lon"]), float(row["lat"]))
            for row in csv.DictReader(f)
            if row["category"] == "shopping_street"
        }


async def nearest_districts(database_url: str) -> dict[str, tuple[str, float]]:
    """Each demo street's nearest district: its slug and how far, in metres."""
    connection = await connect_raw(database_url)
    try:
        found = {}
        for site, (lon, lat) in shopping_streets().items():
            row = await connection.fetchrow(
                """SELECT slug, ST_Distance(geom::geography,
                                            ST_SetSRID(ST_MakePoint($1, $2), 4326)::geography) AS m
                     FROM districts ORDER BY geom <-> ST_SetSRID(ST_MakePoint($1, $2), 4326)
                    LIMIT 1""",
                lon,
                lat,
            )
            found[site] = (row["slug"], row["m"])
        return found
    finally:
        await connection.close()


async def district_rows(database_url: str) -> list[dict[str, Any]]:
    """Every district as stored, with the transaction that last wrote it (`xmin`)."""
    connection = await connect_raw(database_url)
    try:
        rows = await connection.fetch(
            """SELECT xmin::text AS written_by, id, slug, name, name_fr, name_nl, commune,
                      ST_AsEWKB(geom) AS geom, shop_count, shopfront_count, area_m2, source
                 FROM districts ORDER BY slug"""
        )
        return [dict(row) for row in rows]
    finally:
        await connection.close()


def test_the_demo_has_twelve_shopping_streets() -> None:
    assert len(shopping_streets()) == 12
    assert NOT_IN_A_DISTRICT | set(NAMED_AFTER) | set(NAMED_AFTER_A_NEIGHBOUR) == set(
        shopping_streets()
    )


async def test_each_shopping_street_lies_in_a_district_of_its_own(database_url: str) -> None:
    nearest = await nearest_districts(database_url)
    far = {site: round(m) for site, (_, m) in nearest.items() if m > REACH_M}
    assert set(far) == NOT_IN_A_DISTRICT, far
    slugs = {slug for site, (slug, _) in nearest.items() if site not in NOT_IN_A_DISTRICT}
    assert len(slugs) == DISTINCT_DISTRICTS, nearest


async def test_each_district_is_named_after_its_street(
    client: httpx.AsyncClient, make_org: OrgFactory, database_url: str
) -> None:
    reader = await make_org("carrier")
    nearest = await nearest_districts(database_url)
    for site, (name, name_fr, name_nl, commune) in NAMED_AFTER.items():
        answer = await client.get(f"/v1/districts/{nearest[site][0]}", headers=reader.headers)
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-type"].startswith("application/geo+json")
        feature = answer.json()
        assert feature["type"] == "Feature" and feature["geometry"]["type"] == "MultiPolygon"
        properties = feature["properties"]
        assert (
            properties["name"],
            properties["name_fr"],
            properties["name_nl"],
            properties["commune"],
        ) == (name, name_fr, name_nl, commune), site
    for site, name in NAMED_AFTER_A_NEIGHBOUR.items():
        answer = await client.get(f"/v1/districts/{nearest[site][0]}", headers=reader.headers)
        assert answer.json()["properties"]["name"] == name, site
    rue_neuve = await client.get("/v1/districts/rue-neuve-nieuwstraat", headers=reader.headers)
    assert rue_neuve.json()["properties"]["commune_name"] == "Ville de Bruxelles - Stad Brussel"
    assert rue_neuve.json()["properties"]["shop_count"] >= 1


async def test_every_district_as_one_geojson_collection(
    client: httpx.AsyncClient, make_org: OrgFactory
) -> None:
    reader = await make_org("supplier")
    answer = await client.get("/v1/districts", headers=reader.headers)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("application/geo+json")
    collection = answer.json()
    assert collection["type"] == "FeatureCollection"
    assert "OpenStreetMap contributors" in collection["attribution"]
    features = collection["features"]
    # 145 districts of 1 388 shopfronts in the 2013 extract.
    assert collection["numberReturned"] == len(features) >= 100
    slugs = [f["properties"]["slug"] for f in features]
    assert len(set(slugs)) == len(slugs)
    names = [(f["properties"]["name"], f["properties"]["slug"]) for f in features]
    assert names == sorted(names)
    for feature in features:
        properties = feature["properties"]
        assert feature["geometry"]["type"] == "MultiPolygon"
        assert properties["distance_m"] is None
        assert properties["shopfront_count"] >= 3
        assert 0 <= properties["shop_count"] <= properties["shopfront_count"]
        assert len(properties["commune"]) == 5 and properties["commune"].startswith("21")
        # A cluster of shops a street or a square wide, not a town.
        assert 5_000 < properties["area_m2"] < 1_000_000, properties
    exterior = features[0]["geometry"]["coordinates"][0][0]
    assert exterior[0] == exterior[-1]
    assert all(4.2 < lon < 4.5 and 50.7 < lat < 51.0 for lon, lat in exterior)


async def test_the_districts_near_a_point_nearest_first(
    client: httpx.AsyncClient, make_org: OrgFactory
) -> None:
    reader = await make_org("carrier")
    lon, lat = shopping_streets()["shop-flagey"]
    answer = await client.get(
        "/v1/districts", params={"near": f"{lon},{lat}", "radius_km": 1}, headers=reader.headers
    )
    assert answer.status_code == 200, answer.text
    features = answer.json()["features"]
    distances = [f["properties"]["distance_m"] for f in features]
    assert features[0]["properties"]["slug"] == "place-eugene-flagey"
    assert distances[0] == 0 and distances == sorted(distances) and distances[-1] <= 1000
    # Bailli's and Chaussée d'Ixelles' districts are within a kilometre of Flagey; the Rue
    # Neuve's, 2.8 km away, is not.
    assert len(features) >= 3
    slugs = {f["properties"]["slug"] for f in features}
    assert "rue-neuve-nieuwstraat" not in slugs
    swapped = await client.get(
        "/v1/districts", params={"near": f"{lat},{lon}"}, headers=reader.headers
    )
    assert_problem(swapped, 422, "near", "lon_lat_order")
    alone = await client.get("/v1/districts", params={"radius_km": 1}, headers=reader.headers)
    assert_problem(alone, 422, "radius_km", "requires_near")


async def test_the_district_a_delivery_point_lies_in(app: FastAPI, database_url: str) -> None:
    nearest = await nearest_districts(database_url)
    async with app.state.sessionmaker() as session:
        flagey = await district_at(session, *shopping_streets()["shop-flagey"])
        assert flagey is not None and flagey.slug == nearest["shop-flagey"][0]
        assert flagey.name == "Place Eugène Flagey"
        assert await district_at(session, *FORET_DE_SOIGNES) is None
        assert await district_at(session, float("nan"), 50.85) is None


async def test_a_key_is_needed_and_an_unknown_slug_is_a_problem(
    client: httpx.AsyncClient, make_org: OrgFactory
) -> None:
    for path in ("/v1/districts", "/v1/districts/rue-neuve-nieuwstraat"):
        assert_problem(await client.get(path), 401)
    reader = await make_org("consumer")
    unknown = await client.get("/v1/districts/rue-de-nulle-part", headers=reader.headers)
    body = assert_problem(unknown, 404)
    assert "rue-de-nulle-part" in body["detail"]
    malformed = await client.get("/v1/districts/Rue%20Neuve", headers=reader.headers)
    assert_problem(malformed, 422, "slug", "string_pattern_mismatch")


async def test_the_open_data_lists_the_districts(client: httpx.AsyncClient) -> None:
    answer = await client.get(
        "/ogc/collections/ogc.districts/items",
        params={"limit": 1000, "f": "geojson"},
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("application/geo+json")
    features = answer.json()["features"]
    slugs = {f["properties"]["slug"] for f in features}
    assert {"rue-neuve-nieuwstraat", "place-eugene-flagey"} <= slugs
    assert len(features) >= 100
    assert {f["geometry"]["type"] for f in features} == {"MultiPolygon"}
    rue_neuve = next(f for f in features if f["properties"]["slug"] == "rue-neuve-nieuwstraat")
    assert rue_neuve["properties"]["commune_name"] == "Ville de Bruxelles - Stad Brussel"


async def test_loading_again_changes_nothing_and_mends_what_changed(database_url: str) -> None:
    before = await district_rows(database_url)
    load_reference(database_url, "districts")
    # Not a row written: the same transaction wrote each one.
    assert await district_rows(database_url) == before

    connection = await connect_raw(database_url)
    try:
        await connection.execute(
            "UPDATE districts SET name = 'Renamed', area_m2 = 1 WHERE slug = 'place-eugene-flagey'"
        )
        await connection.execute("DELETE FROM districts WHERE slug = 'rue-wayez-wayezstraat'")
    finally:
        await connection.close()
    load_reference(database_url, "districts")
    after = {row["slug"]: row for row in await district_rows(database_url)}
    kept = {row["slug"]: row for row in before}
    assert set(after) == set(kept)
    for slug, row in after.items():
        mended = slug in ("place-eugene-flagey", "rue-wayez-wayezstraat")
        assert (row["written_by"] != kept[slug]["written_by"]) == mended, slug
        same = {k: v for k, v in row.items() if k not in ("written_by", "id")}
        assert same == {k: v for k, v in kept[slug].items() if k not in ("written_by", "id")}
    # The renamed district kept its id; the deleted one came back under its slug.
    assert after["place-eugene-flagey"]["id"] == kept["place-eugene-flagey"]["id"]
