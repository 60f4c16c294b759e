"""The candidates ranked in SQL (app.candidates.score_sql) are those `matching.scoring.rank`
ranks, in its order, with its very scores: on a varied data set (every unit, with and without
a mass, prices and gate fees, conditions, windows, reaches, ties), each request's offers and
each offer's requests, whole and cut to a page. A formula changed on one side only fails here."""

import asyncio
import random
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import date, timedelta

import pytest
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from app.candidates import score_sql
from app.candidates.graph import read_candidate_graph
from app.candidates.repository import CANDIDATES_FOR_OFFER, CANDIDATES_FOR_REQUEST
from matching.candidates import CandidatePair
from matching.scoring import Candidate, rank
from testbed.database import connect_raw

# Around the Grand Place; 0.01 degree is some 700 m east-west and 1.1 km north-south here.
CENTRE = (4.3525, 50.8467)
# A chapter, a sub-chapter, a code and a hazardous code (030104, 170106), so that every
# material rule has its pairs.
REQUESTED = ["03", "0301", "030105", "030104", "17", "1701", "170106"]
OFFERED = ["030101", "030104", "030105", "030199", "170101", "170107", "170106"]
UNITS = ["kg", "t", "m3", "piece"]
START = date(2027, 6, 1)


def _quantity(rng: random.Random) -> tuple[str, float, float, float | None]:
    """A unit, a quantity, what remains of it and a mass (none at times, for m3 and pieces)."""
    unit = rng.choice(UNITS)
    value = round(rng.choice([0.004, 0.5, 1, 3, 12.5, 40, 250, 1800]) * rng.uniform(0.5, 2), 3)
    remaining = value if rng.random() < 0.6 else round(value * rng.uniform(0.1, 1), 3) or value
    mass = None if rng.random() < 0.3 else round(value * rng.choice([0.02, 1, 25, 900]), 3) or None
    return unit, value, remaining, mass


async def _seed(database_url: str, rng: random.Random) -> tuple[list[uuid.UUID], list[uuid.UUID]]:
    connection = await connect_raw(database_url)
    try:
        organizations = [
            row["id"]
            for row in await connection.fetch(
                "INSERT INTO organizations (id, name, roles, created_at, updated_at) "
                "SELECT gen_random_uuid(), 'ranking ' || i, '{supplier,consumer}', now(), now() "
                "FROM generate_series(1, 3) i RETURNING id"
            )
        ]
        offers, requests = [], []
        for i in range(200):
            unit, value, remaining, mass = _quantity(rng)
            start = START + timedelta(days=rng.randrange(0, 60))
            until = None if rng.random() < 0.2 else start + timedelta(days=rng.randrange(0, 40))
            price = rng.choice([None, None, -5, 0, 3.5, 12, 80])
            min_lot = None if rng.random() < 0.7 else round(remaining * rng.uniform(0.2, 1.2), 3)
            min_lot = min_lot if min_lot is None or 0 < min_lot <= value else None
            # Twins now and then: the same offer at the same place, tied on everything.
            copies = 2 if i % 25 == 0 else 1
            place = (CENTRE[0] + rng.uniform(-0.06, 0.06), CENTRE[1] + rng.uniform(-0.03, 0.03))
            material, condition = rng.choice(OFFERED), rng.choice("ABC")
            for _ in range(copies):
                offers.append(
                    await connection.fetchval(
                        """INSERT INTO offers (id, organization_id, location, material, title,
                               quantity_value, quantity_unit, remaining_value, mass_kg,
                               available_from, available_until, condition, min_lot,
                               price_per_unit, status, version, created_at, updated_at)
                           VALUES (gen_random_uuid(), $1, ST_SetSRID(ST_MakePoint($2, $3), 4326),
                                   $4, 'ranked offer', $5, $6, $7, $8, $9, $10, $11, $12, $13,
                                   'open', 1, now(), now())
                           RETURNING id""",
                        organizations[i % 3],
                        *place,
                        material,
                        value,
                        unit,
                        remaining,
                        mass,
                        start,
                        until,
                        condition,
                        min_lot,
                        price,
                    )
                )
        for i in range(50):
            unit, value, remaining, mass = _quantity(rng)
            start = START + timedelta(days=rng.randrange(0, 60))
            requests.append(
                await connection.fetchval(
                    """INSERT INTO material_requests (id, organization_id, location, material,
                           quantity_value, quantity_unit, remaining_value, mass_kg, needed_from,
                           needed_by, max_distance_km, min_condition, max_price_per_unit,
                           status, version, created_at, updated_at)
                       VALUES (gen_random_uuid(), $1, ST_SetSRID(ST_MakePoint($2, $3), 4326), $4,
                               $5, $6, $7, $8, $9, $10, $11, $12, $13, 'open', 1, now(), now())
                       RETURNING id""",
                    organizations[(i + 1) % 3],
                    CENTRE[0] + rng.uniform(-0.05, 0.05),
                    CENTRE[1] + rng.uniform(-0.025, 0.025),
                    rng.choice(REQUESTED),
                    value,
                    unit,
                    remaining,
                    mass,
                    start,
                    start + timedelta(days=rng.randrange(0, 45)),
                    rng.choice([0.8, 2, 3.5, 6, 50]),
                    rng.choice("ABC"),
                    rng.choice([None, None, 0, 2, 10, 100]),
                )
            )
        return offers, requests
    finally:
        await connection.close()


@pytest.fixture
async def session(database_url: str) -> AsyncIterator[AsyncSession]:
    engine = create_async_engine(database_url)
    try:
        async with async_sessionmaker(engine)() as session:
            yield session
    finally:
        await engine.dispose()


async def _ranked_in_sql(
    session: AsyncSession, sql: str, anchor_id: uuid.UUID, limit: int
) -> list[tuple[str, str, float]]:
    rows = await session.execute(text(sql), {"anchor_id": anchor_id, "limit": limit})
    return [(str(r["offer_id"]), str(r["request_id"]), r["score"]) for r in rows.mappings()]


# The distance of each pair as the SQL ranks them by (`score_sql.distance`).
_MEASURED_IN_SQL = f"""
SELECT {score_sql.distance("o.location", "r.location")}
  FROM unnest(CAST(:offer_ids AS uuid[]), CAST(:request_ids AS uuid[])) WITH ORDINALITY
       AS pair(offer_id, request_id, at)
  JOIN offers o ON o.id = pair.offer_id
  JOIN material_requests r ON r.id = pair.request_id
 ORDER BY pair.at"""


def _every_pair(database_url: str) -> list[CandidatePair]:
    """Every pair, unranked, as a matching run's child reads them, each with the distance the
    SQL measures: the graph measures its own (pyproj's geodesic), which agrees with it to the
    micrometre but not to the last bit of the scores compared here."""
    engine = create_engine(make_url(database_url).set(drivername="postgresql+psycopg"))
    try:
        with engine.connect() as connection:
            graph = read_candidate_graph(connection, None, None, None, None)
            pairs = [
                graph.pair(int(o), int(r), float(d))
                for o, r, d in zip(
                    graph.arc_offer, graph.arc_request, graph.arc_distance_m, strict=True
                )
            ]
            in_sql = (
                connection.execute(
                    text(_MEASURED_IN_SQL),
                    {
                        "offer_ids": [p.offer_id for p in pairs],
                        "request_ids": [p.request_id for p in pairs],
                    },
                )
                .scalars()
                .all()
            )
    finally:
        engine.dispose()
    assert max(abs(p.distance_m - d) for p, d in zip(pairs, in_sql, strict=True)) < 1e-6
    return [replace(p, distance_m=d) for p, d in zip(pairs, in_sql, strict=True)]


def _as_ranked(candidates: list[Candidate]) -> list[tuple[str, str, float]]:
    return [(c.pair.offer_id, c.pair.request_id, c.score) for c in candidates]


async def test_sql_ranks_the_candidates_as_python_does(
    database_url: str, session: AsyncSession
) -> None:
    offers, requests = await _seed(database_url, random.Random(28))
    pairs = await asyncio.to_thread(_every_pair, database_url)

    def of(key: str, anchor_id: uuid.UUID) -> list[CandidatePair]:
        return [p for p in pairs if getattr(p, key) == str(anchor_id)]

    compared = 0
    for sql, key, anchors in (
        (CANDIDATES_FOR_REQUEST, "request_id", requests),
        (CANDIDATES_FOR_OFFER, "offer_id", offers),
    ):
        for anchor_id in anchors:
            expected = _as_ranked(rank(of(key, anchor_id)))
            assert await _ranked_in_sql(session, sql, anchor_id, 1000) == expected
            assert await _ranked_in_sql(session, sql, anchor_id, 3) == expected[:3]
            compared += len(expected)

    # The data set is varied enough to mean something: many pairs, across units, some left
    # out by rank (quantities that cannot be compared or matched) and some tied.
    ranked = rank(pairs)
    units = {(c.pair.offer_unit, c.pair.request_unit) for c in ranked}
    assert compared > 300, compared
    assert units == {(a, b) for a in UNITS for b in UNITS}
    assert len(ranked) < len(pairs)
    assert len({c.score for c in ranked}) < len(ranked)
