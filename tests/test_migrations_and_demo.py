"""Migrations from empty to head and back to base; the demo data loads once."""

from collections.abc import Awaitable, Callable
from datetime import date

import httpx
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import create_async_engine

from app.db import create_sessionmaker
from app.demo import ORGANIZATIONS, load_demo
from app.main import create_app
from app.models import MaterialRequest, Offer, Organization, Site
from tests.conftest import load_reference, migrate, settings_for

TABLES = {
    "materials",
    "service_areas",
    "organizations",
    "api_keys",
    "sites",
    "offers",
    "material_requests",
    "idempotency_keys",
    "matches",
    "matching_runs",
    "webhooks",
    "webhook_events",
    "webhook_deliveries",
    "vehicles",
    "shipments",
    "route_plans",
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
            assert len(keys) == len(ORGANIZATIONS)
            counts = [
                await session.scalar(select(func.count()).select_from(m))
                for m in (Organization, Site, Offer, MaterialRequest)
            ]
            assert counts[0] == len(ORGANIZATIONS) and all(c and c > 10 for c in counts[1:])
            assert await load_demo(session, settings, date(2026, 12, 1)) == {}
            again = [
                await session.scalar(select(func.count()).select_from(m))
                for m in (Organization, Site, Offer, MaterialRequest)
            ]
            assert again == counts
    finally:
        await engine.dispose()
