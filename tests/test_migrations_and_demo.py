"""Migrations from empty to head and back to base; the demo data loads once."""

import json
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import create_async_engine

from app.db import create_sessionmaker
from app.main import create_app
from app.models import MaterialRequest, Offer, Organization, ShipmentRow, Site, Vehicle
from app.route_plans.service import (
    BASELINE_VAN,
    plan_points,
    plan_routes,
    shipment_input,
    vehicle_input,
    vehicle_profile,
)
from demo.seed import ORGANIZATIONS, demo_id, load_demo, save_demo_keys
from logistics.matrices import straight_line
from tests.conftest import (
    assert_problem,
    connect_raw,
    create_org,
    load_reference,
    migrate,
    offer_body,
    request_body,
    settings_for,
)

TABLES = {
    "materials",
    "service_areas",
    "communes",
    "organizations",
    "api_keys",
    "sites",
    "offers",
    "material_requests",
    "idempotency_keys",
    "rate_limit_counters",
    "matches",
    "matching_runs",
    "webhooks",
    "webhook_events",
    "webhook_deliveries",
    "vehicles",
    "shipments",
    "route_plans",
    "hub_limits",
    "hub_pooling_thresholds",
    "hub_publications",
    "hub_lots",
    "hub_movements",
    "procrastinate_jobs",
    "procrastinate_events",
    "procrastinate_periodic_defers",
    "procrastinate_workers",
}


async def _tables(url: str) -> set[str]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
            )
            return {r[0] for r in rows} - {"spatial_ref_sys"}
    finally:
        await engine.dispose()


async def test_upgrade_from_empty_and_downgrade_to_base(
    make_database: Callable[[str], Awaitable[str]],
) -> None:
    url = await make_database("boucle_migrations")
    migrate(url)
    assert await _tables(url) == TABLES | {"alembic_version"}

    # Readiness follows the migration state.
    app = create_app(settings_for(url))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t"
    ) as client:
        assert (await client.get("/readyz")).status_code == 200
        migrate(url, "base", "downgrade")
        assert await _tables(url) == {"alembic_version"}
        not_ready = await client.get("/readyz")
        assert not_ready.status_code == 503 and not_ready.json()["ready"] is False
    await app.state.engine.dispose()
    migrate(url)
    assert await _tables(url) == TABLES | {"alembic_version"}


async def test_demo_data_loads_once(make_database: Callable[[str], Awaitable[str]]) -> None:
    url = await make_database("boucle_demo")
    migrate(url)
    load_reference(url)
    engine = create_async_engine(url)
    settings = settings_for(url)
    try:
        async with create_sessionmaker(engine)() as session:
            keys = await load_demo(session, settings, date(2026, 12, 1))
            # By organization id, the id the API answers with every offer and request.
            assert set(keys) == {str(demo_id(o.slug)) for o in ORGANIZATIONS}
            for org_id, key in keys.items():
                who = await session.get(Organization, uuid.UUID(org_id))
                assert who is not None and who.name == key["name"]
                assert key["api_key"].startswith("bk_")
            counts = [
                await session.scalar(select(func.count()).select_from(m))
                for m in (Organization, Site, Offer, MaterialRequest)
            ]
            assert counts[0] == len(ORGANIZATIONS) and all(c and c > 10 for c in counts[1:])
            # The map shows Bruxelles-Propreté's yards, which it publishes, and no other
            # organization's: Rotor's yard (no hub operator) nor the port's hypothetical hubs.
            shown = (await session.execute(text("SELECT name, kind FROM ogc.hubs"))).all()
            assert any(name.startswith("Recy-K") for name, _ in shown), shown
            assert {kind for _, kind in shown} == {"yard"}
            assert not any(name.startswith("Rotor") for name, _ in shown), shown
            assert await load_demo(session, settings, date(2026, 12, 1)) == {}
            again = [
                await session.scalar(select(func.count()).select_from(m))
                for m in (Organization, Site, Offer, MaterialRequest)
            ]
            assert again == counts
    finally:
        await engine.dispose()


async def test_the_demo_day_is_planned_with_fewer_km_than_vans_door_to_door(
    make_database: Callable[[str], Awaitable[str]],
) -> None:
    url = await make_database("boucle_demo_day")
    migrate(url)
    load_reference(url)
    engine = create_async_engine(url)
    settings = settings_for(url)
    day = date(2026, 12, 1)
    try:
        async with create_sessionmaker(engine)() as session:
            await load_demo(session, settings, day - timedelta(days=1))
            vehicles = [vehicle_input(v) for v in (await session.scalars(select(Vehicle))).all()]
            shipments = [
                shipment_input(s) for s in (await session.scalars(select(ShipmentRow))).all()
            ]
    finally:
        await engine.dispose()
    assert sorted(v["type"] for v in vehicles) == ["cargo_bike"] * 6 + ["van"] * 2
    assert len(shipments) == 60 and len({tuple(v["start"]) for v in vehicles}) == 3

    inputs = {"vehicles": vehicles, "shipments": shipments}
    points = plan_points(inputs)
    matrices = {p.name: straight_line(points, p) for p in map(vehicle_profile, vehicles)}
    result = plan_routes(
        day,
        inputs,
        "vehicles_then_distance",
        10,
        matrices,
        straight_line(points, BASELINE_VAN),
        "straight_line",
    )
    served = sum(1 for r in result["routes"] for s in r["stops"] if s["kind"] == "delivery")
    assert served + len(result["unassigned"]) == 60 and served >= 55
    assert result["kpis"]["km"] < result["baseline"]["km"]
    assert result["kpis"]["co2_kg"] < result["baseline"]["co2_kg"]


def test_a_keys_file_by_name_is_rewritten_by_organization_id(tmp_path: Path) -> None:
    first = ORGANIZATIONS[0]
    old_file = tmp_path / "demo-keys.json"
    old_file.write_text(json.dumps({first.name: "bk_old"}))
    save_demo_keys(old_file, {})
    assert json.loads(old_file.read_text()) == {
        str(demo_id(first.slug)): {"name": first.name, "api_key": "bk_old"}
    }
    save_demo_keys(tmp_path / "none.json", {})
    assert not (tmp_path / "none.json").exists()


async def test_the_duplicate_proposals_made_before_0017_are_expired_but_one_per_pair(
    make_database: Callable[[str], Awaitable[str]],
) -> None:
    url = await make_database("boucle_duplicate_proposals")
    migrate(url)
    load_reference(url)
    app = create_app(settings_for(url))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t"
    ) as client:
        supplier, consumer = await create_org(client, "supplier"), await create_org(client)
        offer = await client.post("/v1/offers", json=offer_body(), headers=supplier.headers)
        request = await client.post("/v1/requests", json=request_body(), headers=consumer.headers)
        pair = {"offer_id": offer.json()["id"], "request_id": request.json()["id"]}
        first = await client.post("/v1/matches", json=pair, headers=consumer.headers)
        assert first.status_code == 201, first.text
        first_id = uuid.UUID(first.json()["id"])

        # Before 0017 a pair could be proposed again and again: two more of the first, the
        # first of which the supplier has accepted already.
        await app.state.engine.dispose()
        migrate(url, "0017-1", "downgrade")
        conn = await connect_raw(url)
        try:
            columns = [
                r["column_name"]
                for r in await conn.fetch(
                    "SELECT column_name FROM information_schema.columns "
                    "WHERE table_name = 'matches' ORDER BY ordinal_position"
                )
            ]
            changed = {
                "id": "gen_random_uuid()",
                "created_at": "created_at + $2 * interval '1 minute'",
                "offer_accepted_at": "$3",
            }
            copy = (
                f"INSERT INTO matches ({', '.join(columns)}) "
                f"SELECT {', '.join(changed.get(c, c) for c in columns)} "
                "FROM matches WHERE id = $1 RETURNING id"
            )
            accepted = await conn.fetchval(copy, first_id, 1, datetime.now(UTC))
            later = await conn.fetchval(copy, first_id, 2, None)
        finally:
            await conn.close()
        migrate(url)

        statuses = {}
        for match_id in (first_id, accepted, later):
            answer = await client.get(f"/v1/matches/{match_id}", headers=consumer.headers)
            statuses[match_id] = (answer.json()["status"], answer.json()["version"])
        assert statuses == {
            first_id: ("expired", 2),
            accepted: ("proposed", 1),
            later: ("expired", 2),
        }
        again = await client.post("/v1/matches", json=pair, headers=consumer.headers)
        assert assert_problem(again, 409)["match_id"] == str(accepted)
    await app.state.engine.dispose()
