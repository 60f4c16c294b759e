"""Spatial lists: GeoJSON ordered by distance, radius and filters, keyset pages, the GiST index."""

import random
from collections.abc import Awaitable, Callable

import httpx
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import create_async_engine

from app.kit.pagination import PageParams
from app.kit.spatial import NearParams, near_query
from app.models import Offer
from tests.conftest import OrgFactory, connect_raw, migrate, offer_body, point, request_body

# Points east of the Grand-Place, 0.5 km apart along a parallel (about 0.00709 degrees of longitude).
ORIGIN = (4.3525, 50.8467)


def east_of_origin(km: float) -> list[float]:
    return [round(ORIGIN[0] + km * 0.014184, 6), ORIGIN[1]]


async def test_offers_near_a_point_come_nearest_first_as_geojson(
    client: httpx.AsyncClient, make_org: OrgFactory
) -> None:
    supplier, reader = await make_org("supplier"), await make_org("consumer")
    # A material nobody else in the suite offers, so that the list is ours alone.
    for km in (3.0, 0.5, 2.0, 1.0, 8.0):
        body = offer_body(
            location=point(east_of_origin(km)), material="020304", title=f"at {km} km"
        )
        assert (
            await client.post("/v1/offers", json=body, headers=supplier.headers)
        ).status_code == 201
    await client.post(
        "/v1/offers",
        json=offer_body(location=point(east_of_origin(1.5)), material="170504"),
        headers=supplier.headers,
    )

    near = f"{ORIGIN[0]},{ORIGIN[1]}"
    response = await client.get(
        "/v1/offers",
        params={"near": near, "radius_km": 5, "material": "0203"},
        headers=reader.headers,
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/geo+json"
    collection = response.json()
    assert collection["type"] == "FeatureCollection"
    titles = [f["properties"]["title"] for f in collection["features"]]
    assert titles == ["at 0.5 km", "at 1.0 km", "at 2.0 km", "at 3.0 km"]
    distances = [f["properties"]["distance_m"] for f in collection["features"]]
    assert distances == sorted(distances)
    assert abs(distances[0] - 500) < 10 and abs(distances[-1] - 3000) < 30
    first = collection["features"][0]
    assert first["geometry"] == {"type": "Point", "coordinates": east_of_origin(0.5)}
    assert "location" not in first["properties"]

    # Pages follow the `next` link until the end, without a repeat or a gap.
    seen, href = [], "/v1/offers"
    params: dict[str, str | int] | None = {"near": near, "material": "020304", "limit": 2}
    while href:
        page = (await client.get(href, params=params, headers=reader.headers)).json()
        seen += [f["properties"]["title"] for f in page["features"]]
        nexts = [link["href"] for link in page["links"] if link["rel"] == "next"]
        href, params = (nexts[0], None) if nexts else ("", None)
    assert seen == ["at 0.5 km", "at 1.0 km", "at 2.0 km", "at 3.0 km", "at 8.0 km"]


async def test_pages_near_a_point_follow_the_distance_to_the_last_row(
    client: httpx.AsyncClient, make_org: OrgFactory, database_url: str
) -> None:
    """Every page, with and without a radius and after any cursor, holds the rows the distance
    orders there (ties by id): the same list as the database's own ORDER BY ST_Distance."""
    supplier, reader = await make_org("supplier"), await make_org("consumer")
    rng = random.Random(28)
    places = [
        [
            round(ORIGIN[0] + rng.uniform(-0.08, 0.08), 6),
            round(ORIGIN[1] + rng.uniform(-0.05, 0.05), 6),
        ]
        for _ in range(30)
    ]
    # Twins: offers at the very same place tie on the distance, and go by id.
    places += places[:6]
    for place in places:
        body = offer_body(location=point(place), material="020199")
        assert (
            await client.post("/v1/offers", json=body, headers=supplier.headers)
        ).status_code == 201
    connection = await connect_raw(database_url)
    try:
        expected = {
            radius: [
                str(row["id"])
                for row in await connection.fetch(
                    """SELECT id FROM offers
                        WHERE material = '020199'
                          AND ($3::float8 IS NULL OR ST_DWithin(location::geography,
                              ST_MakePoint($1, $2)::geography, $3 * 1000))
                        ORDER BY ST_Distance(location::geography,
                                             ST_MakePoint($1, $2)::geography), id""",
                    *ORIGIN,
                    radius,
                )
            ]
            for radius in (None, 4.0)
        }
    finally:
        await connection.close()
    assert 6 < len(expected[4.0]) < len(expected[None]) == 36

    for radius, limit in ((None, 1), (None, 7), (4.0, 5), (4.0, 50)):
        seen, href = [], "/v1/offers"
        params: dict[str, str | int | float] | None = {
            "near": f"{ORIGIN[0]},{ORIGIN[1]}",
            "material": "020199",
            "limit": limit,
            **({} if radius is None else {"radius_km": radius}),
        }
        while href:
            page = (await client.get(href, params=params, headers=reader.headers)).json()
            assert len(page["features"]) <= limit
            seen += [f["id"] for f in page["features"]]
            nexts = [link["href"] for link in page["links"] if link["rel"] == "next"]
            href, params = (nexts[0], None) if nexts else ("", None)
        assert seen == expected[radius], (radius, limit)


async def test_offer_filters_on_availability(
    client: httpx.AsyncClient, make_org: OrgFactory
) -> None:
    org = await make_org("supplier")
    for start, end in (("2027-01-01", "2027-01-31"), ("2027-02-01", None)):
        body = offer_body(material="020305", available_from=start, available_until=end)
        assert (await client.post("/v1/offers", json=body, headers=org.headers)).status_code == 201

    def listed(day: str) -> Awaitable[httpx.Response]:
        return client.get(
            "/v1/offers", params={"material": "020305", "available_on": day}, headers=org.headers
        )

    assert [
        f["properties"]["available_from"] for f in (await listed("2027-01-15")).json()["features"]
    ] == ["2027-01-01"]
    assert [
        f["properties"]["available_from"] for f in (await listed("2030-01-01")).json()["features"]
    ] == ["2027-02-01"]
    assert (await listed("2026-06-01")).json()["features"] == []


async def test_requests_near_a_point_and_by_family(
    client: httpx.AsyncClient, make_org: OrgFactory
) -> None:
    org = await make_org("consumer")
    for km, material in ((1.0, "0204"), (4.0, "020401"), (2.0, "02")):
        body = request_body(location=point(east_of_origin(km)), material=material)
        assert (
            await client.post("/v1/requests", json=body, headers=org.headers)
        ).status_code == 201
    response = await client.get(
        "/v1/requests",
        params={"near": f"{ORIGIN[0]},{ORIGIN[1]}", "material": "020401", "mine": "true"},
        headers=org.headers,
    )
    assert response.headers["content-type"] == "application/geo+json"
    # Requests for the code itself and for the wider families that include it, nearest first.
    assert [f["properties"]["material"] for f in response.json()["features"]] == [
        "0204",
        "02",
        "020401",
    ]


async def test_the_distance_query_uses_the_gist_index(
    make_database: Callable[[str], Awaitable[str]],
) -> None:
    url = await make_database("boucle_explain")
    migrate(url)
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.exec_driver_sql(
                "INSERT INTO materials VALUES ('170504', '17 05 04', '17', '1705', 'Soil', false, 'c', 's', 'x')"
            )
            await conn.exec_driver_sql(
                "INSERT INTO organizations (id, name, roles) VALUES ('00000000-0000-0000-0000-000000000001', 'o', '{supplier}')"
            )
            await conn.exec_driver_sql(
                """INSERT INTO offers (id, organization_id, location, material, title, quantity_value,
                       quantity_unit, remaining_value, available_from, condition)
                   SELECT gen_random_uuid(), '00000000-0000-0000-0000-000000000001',
                          ST_SetSRID(ST_MakePoint(4.25 + random() * 0.25, 50.76 + random() * 0.15), 4326),
                          '170504', 'soil', 1, 't', 1, DATE '2026-12-01', 'C'
                     FROM generate_series(1, 20000)"""
            )
            await conn.exec_driver_sql("ANALYZE offers")
            query = near_query(Offer, [], NearParams(ORIGIN, 1.0), PageParams(limit=50, after=None))
            sql = str(
                query.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True})
            )
            plan = "\n".join(row[0] for row in (await conn.exec_driver_sql("EXPLAIN " + sql)).all())
    finally:
        await engine.dispose()
    # The page's bound is found in the geometry index's own order (KNN), not by sorting the
    # rows in reach; the page itself is read from the geography index within that bound.
    assert "Index Scan using ix_offers_location on offers" in plan, plan
    assert "Order By: (location <->" in plan, plan
    assert "ix_offers_location_geog" in plan, plan
