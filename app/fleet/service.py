import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import Principal
from app.fleet.schemas import DEFAULTS, VehicleCreate
from app.kit.ownership import load_readable
from app.kit.pagination import PageParams, keyset_page, oldest_first
from app.models import Vehicle
from app.settings import Settings
from app.sites.service import place_of

FLEET_ROLES = ("carrier", "hub_operator")


async def build_vehicle(
    session: AsyncSession, settings: Settings, principal: Principal, data: VehicleCreate
) -> Vehicle:
    """The vehicle as described, its places found and what it leaves out taken from the
    defaults of its type; not added to the session (a route plan's inline vehicles are
    built so too, and never stored)."""
    start = await place_of(session, settings, principal, data.start_site_id, data.start)
    if data.end_site_id is None and data.end is None:
        end = start
    else:
        end = await place_of(session, settings, principal, data.end_site_id, data.end)
    given = data.model_dump(
        exclude_none=True, exclude={"start_site_id", "start", "end_site_id", "end"}
    )
    return Vehicle(
        id=uuid.uuid4(),
        organization_id=principal.organization_id,
        start_location=start,
        end_location=end,
        **{**DEFAULTS[data.type], **given},
    )


async def create_vehicle(
    session: AsyncSession, settings: Settings, principal: Principal, data: VehicleCreate
) -> Vehicle:
    principal.require_role(*FLEET_ROLES)
    vehicle = await build_vehicle(session, settings, principal, data)
    session.add(vehicle)
    await session.commit()
    return vehicle


async def list_vehicles(
    session: AsyncSession, principal: Principal, page: PageParams
) -> list[Vehicle]:
    """The organization's fleet, oldest first."""
    query = select(Vehicle).where(Vehicle.organization_id == principal.organization_id)
    return list((await session.scalars(keyset_page(query, oldest_first(Vehicle), page))).all())


async def get_vehicle(
    session: AsyncSession, principal: Principal, vehicle_id: uuid.UUID
) -> Vehicle:
    return await load_readable(
        session, Vehicle, vehicle_id, principal, public=False, noun="vehicle"
    )


async def own_vehicles(
    session: AsyncSession, principal: Principal, ids: list[uuid.UUID]
) -> list[Vehicle]:
    return [await get_vehicle(session, principal, i) for i in ids]
