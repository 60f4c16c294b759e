"""The fleet: vehicles registered once and named by the route plans that use them. A plan
copies what it uses when it is asked for (app/route_plans/inputs.py), so a vehicle changed or
deleted afterwards leaves the plans already asked for as they were."""

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.fleet.schemas import DEFAULTS, TYPE_DEFAULTED_FIELDS, VehicleCreate, VehiclePatch
from app.kit.field_checks import FieldChecks
from app.kit.geo import Point
from app.kit.owned import OwnedRows
from app.kit.pagination import PageParams
from app.kit.principal import Principal
from app.models import Vehicle
from app.settings import Settings
from app.sites.service import place_of

FLEET_ROLES = ("carrier", "hub_operator")
START_FIELDS = ("start_site_id", "start")
END_FIELDS = ("end_site_id", "end")
VEHICLES = OwnedRows(Vehicle, "vehicle")


async def build_vehicle(
    session: AsyncSession, settings: Settings, principal: Principal, data: VehicleCreate
) -> Vehicle:
    """The vehicle as described, its places found and what it leaves out taken from the
    defaults of its type; not added to the session (a route plan's inline vehicles are
    built so too, and never stored)."""
    checks = FieldChecks()
    start = await checks.check(
        place_of(session, settings, principal, data.start_site_id, data.start, *START_FIELDS)
    )
    if data.end_site_id is None and data.end is None:
        end = start
    else:
        end = await checks.check(
            place_of(session, settings, principal, data.end_site_id, data.end, *END_FIELDS)
        )
    checks.raise_failures()
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
    await session.flush()
    return vehicle


async def list_vehicles(
    session: AsyncSession, principal: Principal, page: PageParams
) -> list[Vehicle]:
    """The organization's fleet, oldest first."""
    return await VEHICLES.page(session, principal, page)


async def get_vehicle(
    session: AsyncSession, principal: Principal, vehicle_id: uuid.UUID
) -> Vehicle:
    return await VEHICLES.readable(session, principal, vehicle_id)


async def own_vehicles(
    session: AsyncSession, principal: Principal, ids: list[uuid.UUID]
) -> list[Vehicle]:
    return [await get_vehicle(session, principal, i) for i in ids]


def _as_input(row: Vehicle) -> dict[str, Any]:
    """The vehicle as a create body that would make it. An end where it starts is left out,
    as a create leaves it, so that it follows a new start."""
    start = Point.model_validate(row.start_location).model_dump()
    end = Point.model_validate(row.end_location).model_dump()
    return {
        "name": row.name,
        "type": row.type,
        "start": start,
        "end": None if end == start else end,
        "shift_start": row.shift_start,
        "shift_end": row.shift_end,
        **{field: getattr(row, field) for field in TYPE_DEFAULTED_FIELDS},
    }


# What a patch rewrites besides the places, which are rewritten only when they move.
_PLAIN_COLUMNS = ("name", "type", "shift_start", "shift_end", *sorted(TYPE_DEFAULTED_FIELDS))


async def update_vehicle(
    session: AsyncSession,
    settings: Settings,
    principal: Principal,
    vehicle_id: uuid.UUID,
    patch: VehiclePatch,
    if_match: str | None,
) -> Vehicle:
    """The vehicle after the patch, built by the rules of a create from what it is and what
    the patch changes; nothing is written unless the whole result is valid."""
    row = await VEHICLES.writable(session, principal, vehicle_id, if_match)
    changed = patch.model_fields_set
    current = _as_input(row)
    if "type" in changed:
        current.update(dict.fromkeys(TYPE_DEFAULTED_FIELDS))
    moves_start = bool(changed & {"start_site_id", "start"})
    moves_end = bool(changed & {"end_site_id", "end"}) or (moves_start and current["end"] is None)
    if moves_start:
        current["start"] = None
    if changed & {"end_site_id", "end"}:
        current["end"] = None
    merged = VEHICLES.patched(VehicleCreate, current, patch)
    rebuilt = await build_vehicle(session, settings, principal, merged)
    for column in _PLAIN_COLUMNS:
        setattr(row, column, getattr(rebuilt, column))
    if moves_start:
        row.start_location = rebuilt.start_location
    if moves_end:
        row.end_location = rebuilt.end_location
    # The row is locked (VEHICLES.writable) from the If-Match check to the commit.
    row.version += 1
    await VEHICLES.flush(session)
    return row


async def delete_vehicle(
    session: AsyncSession, principal: Principal, vehicle_id: uuid.UUID, if_match: str | None
) -> None:
    """Deletes the vehicle. The route plans that use it keep their copy of it."""
    await session.delete(await VEHICLES.writable(session, principal, vehicle_id, if_match))
    await session.flush()
