"""GET /v1/geocode and `geocode()` over the streets and house numbers of the 2013 OSM extract,
loaded by `python -m app.cli addresses` into the suite's database (the `geocoder_database`
fixture). The addresses used are in that extract: Rue Neuve 111 (a shop with its number),
Chaussée d'Ixelles 280, Rue au Bois in Ganshoren (1083) and in Woluwe-Saint-Pierre (1150)."""

import math
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from app.database_roles import APPLICATION
from app.geocoding.schemas import Precision
from app.geocoding.service import geocode
from app.kit.problems import FieldError, ValidationFailed
from testbed.database import as_role, connect_raw, load_reference
from tests.conftest import OrgFactory, assert_problem

RUE_NEUVE_111 = (4.3569015, 50.853064)
CHAUSSEE_D_IXELLES_280 = (4.3703088, 50.8292779)
AVENUE_D_AUDERGHEM_101 = (4.3867742, 50.8368483)


@pytest.fixture(scope="module")
async def shop_headers(geocoder_database: str, make_org: OrgFactory) -> dict[str, str]:
    return (await make_org("consumer", name="Boutique Dansaert")).headers


async def geocoded(client: httpx.AsyncClient, headers: dict[str, str], q: str) -> dict[str, Any]:
    response = await client.get("/v1/geocode", params={"q": q}, headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    assert body["attribution"].startswith("© OpenStreetMap contributors")
    return body


def metres(a: list[float] | tuple[float, float], b: list[float] | tuple[float, float]) -> float:
    dx = (a[0] - b[0]) * 111_320 * math.cos(math.radians(a[1]))
    dy = (a[1] - b[1]) * 110_540
    return math.hypot(dx, dy)


@pytest.mark.parametrize(
    "q",
    [
        "Rue Neuve 111, 1000 Bruxelles",
        "Nieuwstraat 111 1000 Brussel",
        "111 rue neuve",
        "RUE NEUVE 111",
        "Nieuwstr. 111, B-1000 Brussel",
    ],
)
async def test_an_address_in_french_or_in_dutch_is_the_same_door(
    client: httpx.AsyncClient, shop_headers: dict[str, str], q: str
) -> None:
    body = await geocoded(client, shop_headers, q)
    match = body["match"]
    assert match["precision"] == "house_number"
    assert match["point"] == {"type": "Point", "coordinates": list(RUE_NEUVE_111)}
    assert match["housenumber"] == "111" and match["postcode"] == "1000"
    assert body["needs_attention"] is False
    # The label speaks the language the street was asked in.
    if match["language"] == "nl":
        assert match["label"] == "Nieuwstraat 111, 1000 Stad Brussel"
    else:
        assert match["label"] == "Rue Neuve 111, 1000 Ville de Bruxelles"
    assert match["score"] == 1.0


@pytest.mark.parametrize(
    "q",
    ["Chaussée d'Ixelles 280", "chaussee d ixelles 280, 1050 Ixelles", "Elsense Steenweg 280"],
)
async def test_accents_apostrophes_and_case_do_not_matter(
    client: httpx.AsyncClient, shop_headers: dict[str, str], q: str
) -> None:
    match = (await geocoded(client, shop_headers, q))["match"]
    assert match["precision"] == "house_number"
    assert match["point"]["coordinates"] == list(CHAUSSEE_D_IXELLES_280)
    assert match["commune"] in ("Ixelles", "Elsene")


@pytest.mark.parametrize(
    ("q", "read"),
    [
        ("Rue de Brabant 62, 1210 Saint-Josse", ("rue de brabant", "62", "1210")),
        ("Brabantstraat 62 1210 Sint-Joost-ten-Node", ("brabantstraat", "62", "1210")),
        ("62 rue de brabant", ("rue de brabant", "62", None)),
        ("Rue des 3 Tilleuls 5 B", ("rue des 3 tilleuls", "5b", None)),
        ("Chaussée de Louvain 1200", ("chaussee de louvain", "1200", None)),
        ("1000 Bruxelles", (None, None, "1000")),
        ("Bd Anspach 43, B-1000 Bruxelles", ("boulevard anspach", "43", "1000")),
    ],
)
async def test_the_text_is_read_into_street_number_and_postcode(
    client: httpx.AsyncClient,
    shop_headers: dict[str, str],
    q: str,
    read: tuple[str | None, str | None, str | None],
) -> None:
    body = await geocoded(client, shop_headers, q)
    assert body["read"] == dict(zip(("street", "housenumber", "postcode"), read, strict=True))


@pytest.mark.parametrize(
    ("q", "door"),
    [
        ("Chée d'Ixelles 280", CHAUSSEE_D_IXELLES_280),
        ("Av. d'Auderghem 101", AVENUE_D_AUDERGHEM_101),
        ("Oudergem ln 101", AVENUE_D_AUDERGHEM_101),
    ],
)
async def test_abbreviated_street_kinds_are_written_out(
    client: httpx.AsyncClient, shop_headers: dict[str, str], q: str, door: tuple[float, float]
) -> None:
    match = (await geocoded(client, shop_headers, q))["match"]
    assert match["precision"] == "house_number" and match["score"] == 1.0
    assert match["point"]["coordinates"] == list(door)


async def test_a_street_without_its_number_is_found_to_the_street(
    client: httpx.AsyncClient, shop_headers: dict[str, str]
) -> None:
    for q in ("Rue Neuve, 1000 Bruxelles", "Rue Neuve 999"):
        body = await geocoded(client, shop_headers, q)
        match = body["match"]
        assert match["precision"] == "street", q
        assert match["housenumber"] is None
        assert match["label"] == "Rue Neuve, 1000 Ville de Bruxelles"
        # A point of the street, within a few hundred metres of its number 111.
        assert metres(match["point"]["coordinates"], RUE_NEUVE_111) < 400
        assert body["needs_attention"] is False


async def test_a_number_between_known_doors_is_placed_between_them(
    client: httpx.AsyncClient, shop_headers: dict[str, str]
) -> None:
    """Chaussée d'Ixelles has doors 280 and 324 on its even side in the extract, none between."""
    below = (await geocoded(client, shop_headers, "Chaussée d'Ixelles 280"))["match"]
    above = (await geocoded(client, shop_headers, "Chaussée d'Ixelles 324"))["match"]
    between = (await geocoded(client, shop_headers, "Chaussée d'Ixelles 300"))["match"]
    assert below["precision"] == above["precision"] == "house_number"
    assert between["precision"] == "interpolated"
    assert between["label"] == "Chaussée d'Ixelles 300, 1050 Ixelles"
    (x0, y0), (x1, y1) = below["point"]["coordinates"], above["point"]["coordinates"]
    expected = (x0 + (x1 - x0) * 20 / 44, y0 + (y1 - y0) * 20 / 44)
    assert metres(between["point"]["coordinates"], expected) < 1
    # A number below every known door of its side is known to the street only.
    assert (await geocoded(client, shop_headers, "Chaussée d'Ixelles 2"))["match"][
        "precision"
    ] == "street"


async def test_a_misspelt_street_is_suggested(
    client: httpx.AsyncClient, shop_headers: dict[str, str]
) -> None:
    # Near enough to be taken, and said to be less sure.
    near = (await geocoded(client, shop_headers, "Chausée d'Ixeles 280"))["match"]
    assert near["point"]["coordinates"] == list(CHAUSSEE_D_IXELLES_280)
    assert 0.5 <= near["score"] < 1
    # Too far to be taken: no match, the street as a suggestion ("did you mean").
    body = await geocoded(client, shop_headers, "Rue Nueve 111")
    assert body["match"] is None and body["needs_attention"] is True
    assert body["read"] == {"street": "rue nueve", "housenumber": "111", "postcode": None}
    first = body["suggestions"][0]
    assert first["label"] == "Rue Neuve 111, 1000 Ville de Bruxelles"
    assert first["precision"] == "house_number"
    assert 1 <= len(body["suggestions"]) <= 5
    assert [s["score"] for s in body["suggestions"]] == sorted(
        (s["score"] for s in body["suggestions"]), reverse=True
    )


async def test_the_postcode_chooses_between_streets_of_one_name(
    client: httpx.AsyncClient, shop_headers: dict[str, str]
) -> None:
    """Rue au Bois is a street of Ganshoren (1083) and one of Woluwe-Saint-Pierre (1150), some
    12 km apart."""
    ganshoren = (await geocoded(client, shop_headers, "Rue au Bois, 1083 Ganshoren"))["match"]
    woluwe = await geocoded(client, shop_headers, "Bosstraat, 1150 Sint-Pieters-Woluwe")
    assert ganshoren["label"] == "Rue au Bois, 1083 Ganshoren"
    assert woluwe["match"]["label"] == "Bosstraat, 1150 Sint-Pieters-Woluwe"
    assert (
        metres(ganshoren["point"]["coordinates"], woluwe["match"]["point"]["coordinates"]) > 10_000
    )
    # The other one is still offered, below.
    assert any(s["postcode"] == "1083" for s in woluwe["suggestions"])
    assert all(s["score"] < 1 for s in woluwe["suggestions"])
    # A number of the Woluwe street, with the Woluwe postcode, is its door.
    door = (await geocoded(client, shop_headers, "Rue au Bois 292, 1150"))["match"]
    assert door["precision"] == "house_number" and door["postcode"] == "1150"


async def test_a_postcode_alone_needs_attention(
    client: httpx.AsyncClient, shop_headers: dict[str, str]
) -> None:
    body = await geocoded(client, shop_headers, "1210 Saint-Josse-ten-Noode")
    assert body["match"]["precision"] == "postcode"
    assert body["match"]["label"] == "1210 Saint-Josse-ten-Noode"
    assert body["needs_attention"] is True
    # An unknown street in a known postcode: the postcode's point, and attention.
    body = await geocoded(client, shop_headers, "Qzxwv 12, 1050 Ixelles")
    assert body["match"]["precision"] == "postcode" and body["match"]["postcode"] == "1050"
    assert body["needs_attention"] is True
    # Nothing known at all.
    body = await geocoded(client, shop_headers, "Qzxwv 12")
    assert body["match"] is None and body["needs_attention"] is True


@pytest.mark.parametrize(
    ("q", "rule"),
    [
        ("", "string_too_short"),
        ("x" * 201, "string_too_long"),
        ("!!! ???", "address"),
        ("42", "address"),
    ],
)
async def test_text_that_names_no_address_answers_422_on_q(
    client: httpx.AsyncClient, shop_headers: dict[str, str], q: str, rule: str
) -> None:
    response = await client.get("/v1/geocode", params={"q": q}, headers=shop_headers)
    assert_problem(response, 422, "q", rule)


async def test_q_is_required(client: httpx.AsyncClient, shop_headers: dict[str, str]) -> None:
    assert_problem(await client.get("/v1/geocode", headers=shop_headers), 422, "q", "missing")


async def test_geocoding_needs_an_api_key(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/geocode", params={"q": "Rue Neuve 111"})
    assert_problem(response, 401)


async def test_other_domains_call_geocode_directly(app: FastAPI, geocoder_database: str) -> None:
    async with app.state.read_sessionmaker() as session:
        result = await geocode(session, "Nieuwstraat 111, 1000 Brussel")
    assert result.match is not None and result.match.precision is Precision.house_number
    assert result.match.point.coordinates == RUE_NEUVE_111
    assert result.match.language == "nl" and not result.needs_attention
    # A caller that took the address from a body names its own field.
    async with app.state.read_sessionmaker() as session:
        with pytest.raises(ValidationFailed) as refused:
            await geocode(session, "???", field="delivery.address", location="body")
    assert refused.value.extensions["errors"] == [
        FieldError("delivery.address", "address", refused.value.detail.split(": ", 1)[1], "body")
    ]


async def test_loading_again_makes_the_same_rows(geocoder_database: str) -> None:
    async def fingerprint() -> list[str]:
        connection = await connect_raw(geocoder_database)
        try:
            return [
                await connection.fetchval(
                    f"SELECT md5(string_agg(t::text, '|' ORDER BY t::text)) FROM geocoding.{table} t"
                )
                for table in ("streets", "street_names", "addresses", "postcodes")
            ]
        finally:
            await connection.close()

    before = await fingerprint()
    load_reference(geocoder_database, "addresses")
    assert await fingerprint() == before
    assert all(before)


async def test_the_service_reads_the_geocoder_and_cannot_change_it(geocoder_database: str) -> None:
    connection = await connect_raw(as_role(geocoder_database, APPLICATION))
    try:
        assert await connection.fetchval("SELECT count(*) FROM geocoding.addresses") > 5000
        for statement in (
            "DELETE FROM geocoding.streets",
            "UPDATE geocoding.addresses SET number_key = '1'",
            "INSERT INTO geocoding.postcodes VALUES ('1999', NULL, 'POINT(4.35 50.85)')",
        ):
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await connection.execute(statement)
    finally:
        await connection.close()
