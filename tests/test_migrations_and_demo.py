"""Migrations from empty to head and back to base; the demo data loads once."""

import json
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import ValidationError
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import create_async_engine

from app.db import create_sessionmaker
from app.main import create_app
from app.models import MaterialRequest, Offer, Organization, ShipmentRow, Site, Vehicle
from app.route_plans.plan_inputs import PlanInputs
from app.route_plans.service import (
    BASELINE_VAN,
    plan_points,
    plan_routes,
    plan_shipment,
    plan_vehicle,
    vehicle_profile,
)
from app.worker.process import work_until_idle
from demo.seed import ORGANIZATIONS, demo_id, load_demo, save_demo_keys
from logistics.matrices import straight_line
from tests.conftest import (
    PLAN_DAY,
    PLAN_SHOPS,
    TOUR_TAXIS,
    assert_problem,
    connect_raw,
    create_org,
    load_reference,
    migrate,
    offer_body,
    plan_body,
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
    "districts",
    "delivery_services",
    "delivery_slots",
    "delivery_quotes",
    "deliveries",
    "shop_connections",
    "shop_orders",
    "shop_webhook_receipts",
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
            vehicles = [
                plan_vehicle(v, str(v.id)) for v in (await session.scalars(select(Vehicle))).all()
            ]
            shipments = [
                plan_shipment(s, str(s.id))
                for s in (await session.scalars(select(ShipmentRow))).all()
            ]
    finally:
        await engine.dispose()
    assert sorted(v.type for v in vehicles) == ["cargo_bike"] * 6 + ["van"] * 2
    assert len(shipments) == 60 and len({v.start for v in vehicles}) == 3

    inputs = PlanInputs(
        version=2, mode="direct", vehicles=tuple(vehicles), shipments=tuple(shipments), hubs=()
    )
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
    served = sum(1 for r in result.routes for s in r.stops if s.kind == "delivery")
    assert served + len(result.unassigned) == 60 and served >= 55
    assert result.kpis.km < result.baseline.km
    assert result.kpis.co2_kg < result.baseline.co2_kg


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


# A plan's inputs as the first versions froze them: no version, no mode, no hubs, vehicles
# without a stop time, windows named `from` and `until`.
FROZEN_BEFORE_0021: dict[str, Any] = {
    "vehicles": [
        {
            "id": "inline-1",
            "name": "Old bike",
            "type": "cargo_bike",
            "capacity_kg": 150.0,
            "capacity_m3": 1.0,
            "speed_kmh": 15.0,
            "range_km": 50.0,
            "start": TOUR_TAXIS,
            "end": TOUR_TAXIS,
            "shift_start": "07:00:00",
            "shift_end": "19:00:00",
            "cost_per_km": 0.1,
            "cost_per_hour": 25.0,
            "fixed_cost": 10.0,
            "co2_g_per_km": 0.0,
        }
    ],
    "shipments": [
        {
            "id": "parcel-0",
            "reference": "parcel-0",
            "pickup": {
                "location": TOUR_TAXIS,
                "from": f"{PLAN_DAY}T08:00:00+01:00",
                "until": f"{PLAN_DAY}T12:00:00+01:00",
                "service_s": 300,
            },
            "delivery": {
                "location": PLAN_SHOPS[0],
                "from": f"{PLAN_DAY}T09:00:00+01:00",
                "until": f"{PLAN_DAY}T17:00:00+01:00",
                "service_s": 300,
            },
            "load_kg": 20.0,
            "load_m3": 0.0,
        }
    ],
}


async def test_a_plan_frozen_before_0021_is_rewritten_into_version_2_and_planned(
    make_database: Callable[[str], Awaitable[str]],
) -> None:
    with pytest.raises(ValidationError):
        PlanInputs.model_validate(FROZEN_BEFORE_0021)
    url = await make_database("boucle_plan_inputs")
    migrate(url)
    load_reference(url)
    app = create_app(settings_for(url))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client,
    ):
        carrier = await create_org(client, "carrier")
        started = await client.post(
            "/v1/route-plans", json=plan_body(time_limit_s=1, shops=1), headers=carrier.headers
        )
        assert started.status_code == 202, started.text
        plan_id = uuid.UUID(started.json()["id"])

        # The plan, queued, as a version before 0021 stored it.
        await app.state.engine.dispose()
        migrate(url, "0020", "downgrade")
        conn = await connect_raw(url)
        try:
            await conn.execute(
                "UPDATE route_plans SET inputs = $2::jsonb WHERE id = $1",
                plan_id,
                json.dumps(FROZEN_BEFORE_0021),
            )
            migrate(url)
            stored = json.loads(
                await conn.fetchval("SELECT inputs FROM route_plans WHERE id = $1", plan_id)
            )
        finally:
            await conn.close()
        [shipment] = FROZEN_BEFORE_0021["shipments"]
        assert stored == {
            "version": 2,
            "mode": "direct",
            "vehicles": [{**FROZEN_BEFORE_0021["vehicles"][0], "stop_time_s": 0}],
            "shipments": [
                {
                    **shipment,
                    **{
                        end: {
                            "location": shipment[end]["location"],
                            "window_from": shipment[end]["from"],
                            "window_until": shipment[end]["until"],
                            "service_s": 300,
                        }
                        for end in ("pickup", "delivery")
                    },
                }
            ],
            "hubs": [],
        }

        await work_until_idle(app)
        answer = await client.get(f"/v1/route-plans/{plan_id}", headers=carrier.headers)
        assert answer.status_code == 200, answer.text
        plan = answer.json()
        assert plan["status"] == "done", plan["error"]
        [route] = plan["result"]["routes"]
        assert (route["vehicle_id"], route["vehicle_name"]) == ("inline-1", "Old bike")
        served = [s["shipment_id"] for s in route["stops"] if s["kind"] == "delivery"]
        assert served == ["parcel-0"] and plan["result"]["unassigned"] == []

        # Down again: the shape the versions before 0021 read, with what the upgrade filled in.
        await app.state.engine.dispose()
        migrate(url, "0020", "downgrade")
        conn = await connect_raw(url)
        try:
            downgraded = json.loads(
                await conn.fetchval("SELECT inputs FROM route_plans WHERE id = $1", plan_id)
            )
        finally:
            await conn.close()
        migrate(url)
        assert downgraded == {
            "mode": "direct",
            "vehicles": stored["vehicles"],
            "shipments": FROZEN_BEFORE_0021["shipments"],
            "hubs": [],
        }
