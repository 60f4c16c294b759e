"""Statistics benchmark: the Region's figures by commune and month, and the open data, over a
seeded data set. Every figure is printed with a baseline measured in the same run.

The data set: N listings (default 100,000: half offers, half requests) posted over the 12
months that have ended, at random points of the Region's box, by 200 organizations; a tenth
of them matched (offer k with request k), some of those accepted, some fulfilled. Then,
through a real uvicorn server:

1. `GET /healthz`, the baseline.
2. The first read of a month (`/v1/stats/flows?group_by=commune`, one month): the month is
   computed then (its contributions summed, then hidden where they must be) and stored; each
   round first forgets the month (`DELETE FROM stats.published_months`), so each read computes.
3. The first read of all 12 months at once (a few rounds, each forgetting them first).
4. Reads of months already published: by commune over the 12 months (JSON, and GeoJSON), by
   commune and material.
5. The open data: `ogc.communes` and `ogc.offers` in a box of about 1 km (as a map asks for its
   view), and whether the plan of that box query uses an index.

    python -m bench.stats [--listings 100000] [--reads 200] [--first-reads 24]

It starts a throwaway PostgreSQL cluster in .data/bench-pg unless BOUCLE_BENCH_DATABASE_URL
names a server (its database `boucle_bench_stats` is dropped and made again)."""

import argparse
import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any

import asyncpg
import httpx

from app.kit.local_time import brussels_today
from app.stats.months import last_ended_month, month_text, months_from
from bench.support import (
    ADMIN_TOKEN,
    CODES,
    free_port,
    fresh_database,
    percentile,
    server_url,
    start_api,
    stop_server,
    until_up,
)
from testbed.database import connect_raw

ORGANIZATIONS = 200
MONTHS = 12
FAMILIES = ["17", "1701", "1702", "1704", "1705", "1501", "2001", "170201", "170504", "150101"]
# The Region's box: a few of its points fall outside the communes (placed in none).
WEST, SOUTH, WIDTH, HEIGHT = 4.25, 50.77, 0.23, 0.13
# About 1 km by 1 km around the Grand-Place.
VIEW_BOX = "4.345,50.842,4.360,50.851"

# Each listing posted at a random moment of the months [$4, $5).
OFFERS_SQL = f"""
WITH g AS (
    SELECT i, round((0.5 + random() * 20)::numeric, 1) AS tonnes,
           $4::timestamptz + random() * ($5::timestamptz - $4::timestamptz) AS posted
      FROM generate_series(1, $1) AS i
)
INSERT INTO offers (id, organization_id, location, material, title, quantity_value, quantity_unit,
                    remaining_value, mass_kg, available_from, available_until, condition, status,
                    version, created_at, updated_at)
SELECT gen_random_uuid(), ($2::uuid[])[1 + i % cardinality($2::uuid[])],
       ST_SetSRID(ST_MakePoint({WEST} + random() * {WIDTH}, {SOUTH} + random() * {HEIGHT}), 4326),
       ($3::text[])[1 + floor(random() * cardinality($3::text[]))::int], 'bench offer',
       tonnes, 't', tonnes, tonnes * 1000, posted::date, posted::date + 400,
       (ARRAY['A', 'B', 'C'])[1 + floor(random() * 3)::int], 'open', 1, posted, posted
  FROM g
"""
REQUESTS_SQL = f"""
WITH g AS (
    SELECT i, round((0.5 + random() * 10)::numeric, 1) AS tonnes,
           $4::timestamptz + random() * ($5::timestamptz - $4::timestamptz) AS posted
      FROM generate_series(1, $1) AS i
)
INSERT INTO material_requests (id, organization_id, location, material, quantity_value,
                               quantity_unit, remaining_value, mass_kg, needed_from, needed_by,
                               max_distance_km, min_condition, status, version, created_at,
                               updated_at)
SELECT gen_random_uuid(), ($2::uuid[])[1 + (i * 7 + 3) % cardinality($2::uuid[])],
       ST_SetSRID(ST_MakePoint({WEST} + random() * {WIDTH}, {SOUTH} + random() * {HEIGHT}), 4326),
       ($3::text[])[1 + floor(random() * cardinality($3::text[]))::int],
       tonnes, 't', tonnes, tonnes * 1000, posted::date, posted::date + 400, 10, 'C', 'open', 1,
       posted, posted
  FROM g
"""
# Offer k with request k (by posting order), proposed a day after the later of the two; every
# third accepted two days later, every ninth fulfilled a week later.
MATCHES_SQL = """
WITH o AS (SELECT id, created_at, row_number() OVER (ORDER BY created_at) AS k FROM offers),
     r AS (SELECT id, created_at, row_number() OVER (ORDER BY created_at) AS k
             FROM material_requests),
     pair AS (
        SELECT o.id AS offer_id, r.id AS request_id, o.k,
               greatest(o.created_at, r.created_at) + interval '1 day' AS proposed
          FROM o JOIN r USING (k)
         WHERE o.k % 10 = 0
     )
INSERT INTO matches (id, offer_id, request_id, quantity_value, quantity_unit,
                     offer_quantity_value, offer_quantity_unit, mass_kg, distance_m, distance_kind,
                     score, status, proposed_by, offer_accepted_at, request_accepted_at,
                     fulfilled_at, version, created_at, updated_at)
SELECT gen_random_uuid(), offer_id, request_id, 1, 't', 1, 't', 1000, 1000, 'straight', '{}',
       CASE WHEN k % 90 = 0 THEN 'fulfilled' WHEN k % 30 = 0 THEN 'accepted' ELSE 'proposed' END,
       'offer',
       CASE WHEN k % 30 = 0 THEN proposed + interval '2 days' END,
       CASE WHEN k % 30 = 0 THEN proposed + interval '2 days' END,
       CASE WHEN k % 90 = 0 THEN proposed + interval '7 days' END,
       1, proposed, proposed
  FROM pair
 WHERE proposed < $1::timestamptz
"""
OFFERS_IN_VIEW = f"""
SELECT id FROM ogc.offers
 WHERE ST_Intersects(geom, ST_MakeEnvelope({VIEW_BOX}, 4326))
"""


async def seed(conn: asyncpg.Connection, listings: int, first: date, end: date) -> None:
    organizations = [
        row["id"]
        for row in await conn.fetch(
            "INSERT INTO organizations (id, name, roles, created_at, updated_at) "
            "SELECT gen_random_uuid(), 'bench ' || i, '{supplier,consumer}', now(), now() "
            "FROM generate_series(1, $1) i RETURNING id",
            ORGANIZATIONS,
        )
    ]
    started = time.perf_counter()
    await conn.execute(OFFERS_SQL, listings // 2, organizations, CODES, first, end)
    await conn.execute(REQUESTS_SQL, listings - listings // 2, organizations, FAMILIES, first, end)
    await conn.execute(MATCHES_SQL, end)
    await conn.execute("ANALYZE")
    counts = await conn.fetchrow(
        "SELECT (SELECT count(*) FROM offers) AS offers, "
        "(SELECT count(*) FROM material_requests) AS requests, "
        "(SELECT count(*) FROM matches) AS matches"
    )
    print(
        f"seeded {counts['offers']:,} offers, {counts['requests']:,} requests and "
        f"{counts['matches']:,} matches of {ORGANIZATIONS} organizations over "
        f"{month_text(first)} to {month_text(end)} (excluded) in "
        f"{time.perf_counter() - started:.1f} s"
    )


async def timed(rounds: int, call: Callable[[], Awaitable[httpx.Response]]) -> list[float]:
    spent = []
    for _ in range(rounds):
        started = time.perf_counter()
        response = await call()
        spent.append(time.perf_counter() - started)
        assert response.status_code == 200, response.text[:500]
    return spent


def report(name: str, spent: list[float], baseline: list[float] | None) -> None:
    p50, p95 = percentile(spent, 50), percentile(spent, 95)
    line = f"  {name:<48} p50 {p50 * 1000:8.2f} ms   p95 {p95 * 1000:8.2f} ms"
    if baseline is None:
        line += "   (baseline)"
    else:
        line += f"   p95 {p95 / percentile(baseline, 95):7.1f} x the baseline"
    print(line, flush=True)


async def bench_stats(database_url: str, listings: int, reads: int, first_reads: int) -> None:
    last = last_ended_month(brussels_today())
    months = months_from(date(last.year - 1, last.month, 1), last)[1:]
    end = date(last.year + last.month // 12, last.month % 12 + 1, 1)
    conn = await connect_raw(database_url)
    await seed(conn, listings, months[0], end)
    plan = "\n".join(row[0] for row in await conn.fetch(f"EXPLAIN (COSTS OFF) {OFFERS_IN_VIEW}"))
    uses_index = "Index" in plan or "Bitmap" in plan
    port = free_port()
    server = start_api(database_url, port)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=600) as client:
            await until_up(client, server)
            observer = await client.post(
                "/v1/organizations",
                json={"name": "bench observer", "roles": ["observer"]},
                headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
            )
            client.headers["Authorization"] = f"Bearer {observer.json()['api_key']}"

            def flows(**params: Any) -> Callable[[], Awaitable[httpx.Response]]:
                return lambda: client.get("/v1/stats/flows", params=params)

            def items(collection: str, **params: Any) -> Callable[[], Awaitable[httpx.Response]]:
                return lambda: client.get(f"/ogc/collections/{collection}/items", params=params)

            await timed(20, lambda: client.get("/healthz"))  # warm the server and its pool
            baseline = await timed(reads, lambda: client.get("/healthz"))
            print(f"through HTTP, {reads} reads each unless said:")
            report("GET /healthz", baseline, None)

            first: list[float] = []
            # One round more than counted: the very first warms the server's caches.
            for round_ in range(first_reads + 1):
                month = months[round_ % len(months)]
                await conn.execute("DELETE FROM stats.published_months WHERE month = $1", month)
                first += await timed(1, flows(group_by="commune", **{"from": month_text(month)}))
            first = first[1:]
            report(f"first read of a month ({len(first)} rounds)", first, baseline)

            every = {"from": month_text(months[0]), "to": month_text(months[-1])}
            all_first: list[float] = []
            for _ in range(3):
                await conn.execute("DELETE FROM stats.published_months")
                all_first += await timed(1, flows(group_by="commune", **every))
            report("first read of 12 months at once (3 rounds)", all_first, baseline)

            for name, call in (
                ("12 months by commune, JSON", flows(group_by="commune", **every)),
                (
                    "12 months by commune, GeoJSON",
                    flows(group_by="commune", format="geojson", **every),
                ),
                (
                    "12 months by commune and material",
                    flows(group_by="commune,material", **every),
                ),
                ("ogc.communes, 50 features", items("ogc.communes", limit=50)),
                ("ogc.offers in a 1 km box, 100 features", items("ogc.offers", bbox=VIEW_BOX)),
            ):
                await timed(3, call)
                report(name, await timed(reads, call), baseline)
    finally:
        server.terminate()
        server.wait()
        await conn.close()
    print(f"the box query on ogc.offers {'uses' if uses_index else 'does NOT use'} an index:")
    print("\n".join(f"    {line}" for line in plan.splitlines()))


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--listings", type=int, default=100_000)
    parser.add_argument("--reads", type=int, default=200)
    parser.add_argument("--first-reads", type=int, default=24)
    args = parser.parse_args()
    server = server_url()
    try:
        database_url = await fresh_database(server, "boucle_bench_stats")
        await bench_stats(database_url, args.listings, args.reads, args.first_reads)
    finally:
        if "BOUCLE_BENCH_DATABASE_URL" not in os.environ:
            stop_server()


if __name__ == "__main__":
    asyncio.run(main())
