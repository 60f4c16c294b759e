"""What offers and requests have in common: a place (a site or a point), a material, a quantity
with its mass, volume and remaining part, a status; created, read, patched and deleted by the
same rules. Each kind says what differs in a `ListingKind` (app/listings/kind.py), and what
else a write makes happen in its `ListingEffects`."""

import uuid
from typing import Any, cast

from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.field_checks import FieldChecks
from app.kit.geo import Point
from app.kit.pagination import PageParams
from app.kit.principal import Principal
from app.kit.problems import Conflict, FieldError
from app.kit.quantity import mass_and_volume, rebased_remaining
from app.kit.spatial import NearParams, near_query, run_near_query
from app.listings.kind import ListingEffects, ListingFilters, ListingKind, Row
from app.settings import Settings
from app.sites.service import place_of


async def create_listing(
    kind: ListingKind[Row],
    effects: ListingEffects[Row],
    session: AsyncSession,
    settings: Settings,
    principal: Principal,
    data: BaseModel,
) -> Row:
    principal.require_role(*kind.roles)
    fields: Any = data
    checks = FieldChecks()
    measures = checks.check_now(
        lambda: mass_and_volume(fields.quantity, fields.mass_kg, fields.volume_m3)
    )
    location = await checks.check(
        place_of(session, settings, principal, fields.site_id, fields.location)
    )
    material = await checks.check(kind.check_material(session, fields.material))
    checks.raise_failures()
    mass_kg, volume_m3 = measures
    # The mixin declares no constructor for the type checker; the mapped classes have one.
    row: Row = cast(Any, kind.model)(
        id=uuid.uuid4(),
        organization_id=principal.organization_id,
        site_id=fields.site_id,
        location=location,
        material=material,
        quantity_value=fields.quantity.value,
        quantity_unit=fields.quantity.unit.value,
        remaining_value=fields.quantity.value,
        mass_kg=mass_kg,
        volume_m3=volume_m3,
        status="open",
        **data.model_dump(include=set(kind.plain_fields - {"status"})),
    )
    session.add(row)
    if effects.on_created is not None:
        await effects.on_created(session, row)
    await session.flush()
    return row


async def list_listings(
    kind: ListingKind[Row],
    session: AsyncSession,
    principal: Principal,
    filters: ListingFilters,
    *,
    near: NearParams,
    page: PageParams,
) -> list[tuple[Row, float | None]]:
    """Everyone's listings of this kind that pass `filters`, nearest first when `near` is set."""
    conditions = await kind.narrow(session, filters)
    if filters.status is not None:
        conditions.append(kind.model.status == filters.status.value)
    if filters.mine:
        conditions.append(kind.model.organization_id == principal.organization_id)
    return await run_near_query(session, near_query(kind.model, conditions, near, page))


async def get_listing(
    kind: ListingKind[Row], session: AsyncSession, principal: Principal, row_id: uuid.UUID
) -> Row:
    return await kind.rows.readable(session, principal, row_id)


def _as_input(kind: ListingKind[Row], row: Row) -> dict[str, Any]:
    return {
        "site_id": row.site_id,
        "location": Point.model_validate(row.location).model_dump(),
        "material": getattr(row, "material"),  # noqa: B009 (each kind maps it its own way)
        "quantity": {"value": row.quantity_value, "unit": row.quantity_unit},
        "mass_kg": row.mass_kg,
        "volume_m3": row.volume_m3,
        **{field: getattr(row, field) for field in kind.plain_fields},
    }


async def update_listing(
    kind: ListingKind[Row],
    effects: ListingEffects[Row],
    session: AsyncSession,
    settings: Settings,
    principal: Principal,
    row_id: uuid.UUID,
    patch: BaseModel,
    if_match: str | None,
) -> Row:
    row = await kind.rows.writable(session, principal, row_id, if_match)
    if effects.check_editable is not None:
        await effects.check_editable(session, row)
    changed = patch.model_fields_set
    current = _as_input(kind, row)
    terms_before = _terms(kind, row)
    if "quantity" in changed:
        # Mass and volume follow a new quantity unless given with it.
        current.update(mass_kg=None, volume_m3=None)
    merged: Any = kind.rows.patched(kind.schemas.stored, current, patch)
    checks = FieldChecks()
    if "status" in changed and merged.status == "reserved" and row.status != "reserved":
        checks.errors.append(
            FieldError(
                "status", "settable_status", "Set status to open or closed; matches reserve."
            )
        )
    if changed & {"site_id", "location"}:
        location = await checks.check(
            place_of(
                session,
                settings,
                principal,
                merged.site_id,
                merged.location if "location" in changed or merged.site_id is None else None,
            )
        )
    if "material" in changed:
        material = await checks.check(kind.check_material(session, merged.material))
    if changed & {"quantity", "mass_kg", "volume_m3"}:
        measures = checks.check_now(
            lambda: mass_and_volume(merged.quantity, merged.mass_kg, merged.volume_m3)
        )
    checks.raise_failures()
    if changed & {"site_id", "location"}:
        row.location, row.site_id = location, merged.site_id
    if "material" in changed:
        setattr(row, "material", material)  # noqa: B010
    if changed & {"quantity", "mass_kg", "volume_m3"}:
        row.mass_kg, row.volume_m3 = measures
    if "quantity" in changed:
        row.remaining_value = rebased_remaining(
            row.quantity_value, row.quantity_unit, row.remaining_value, merged.quantity
        )
        row.quantity_value, row.quantity_unit = merged.quantity.value, merged.quantity.unit.value
    for field in changed & kind.plain_fields:
        setattr(row, field, getattr(merged, field))
    if effects.on_patched is not None:
        await effects.on_patched(session, kind.noun, row.id, terms_before, _terms(kind, row))
    await kind.rows.flush(session)
    return row


def _terms(kind: ListingKind[Row], row: Row) -> dict[str, Any]:
    """The listing's fields as a proposal relies on them (see app/matches/terms.py)."""
    return {**_as_input(kind, row), "quantity_unit": row.quantity_unit}


async def delete_listing(
    kind: ListingKind[Row],
    effects: ListingEffects[Row],
    session: AsyncSession,
    principal: Principal,
    row_id: uuid.UUID,
    if_match: str | None,
) -> None:
    row = await kind.rows.writable(session, principal, row_id, if_match)
    if effects.check_editable is not None:
        await effects.check_editable(session, row)
    try:
        # A savepoint: the refused delete leaves the request's transaction usable.
        async with session.begin_nested():
            await session.delete(row)
    except IntegrityError:
        raise Conflict(
            f"Matches name this {kind.noun}: close it (status closed) instead."
        ) from None
