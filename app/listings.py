"""What offers and requests have in common: a place (site or point), a material, a quantity
with its mass, volume and remaining part, a status, and the rules for patching them."""

from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import Principal
from app.errors import ValidationFailed
from app.kit.geo import Point
from app.kit.ownership import commit_versioned, merge_patch
from app.kit.quantity import mass_and_volume, rebased_remaining
from app.models import MaterialRequest, Offer
from app.settings import Settings
from app.sites.service import place_of

# Fields copied as they are between the schemas and the rows.
OFFER_PLAIN_FIELDS = frozenset(
    {
        "item_type",
        "title",
        "description",
        "min_lot",
        "available_from",
        "available_until",
        "condition",
        "price_per_unit",
        "notes",
        "status",
    }
)
REQUEST_PLAIN_FIELDS = frozenset(
    {
        "title",
        "description",
        "needed_from",
        "needed_by",
        "max_distance_km",
        "min_condition",
        "max_price_per_unit",
        "notes",
        "status",
    }
)


class ListingFields(Protocol):
    site_id: Any
    location: Any
    material: str
    quantity: Any
    mass_kg: float | None
    volume_m3: float | None


Listing = Offer | MaterialRequest
CheckMaterial = Callable[[AsyncSession, str], Awaitable[str]]


async def new_listing(
    model: type[Listing],
    session: AsyncSession,
    settings: Settings,
    principal: Principal,
    data: ListingFields,
    check_material: CheckMaterial,
    plain_fields: frozenset[str],
) -> Any:
    mass_kg, volume_m3 = mass_and_volume(data.quantity, data.mass_kg, data.volume_m3)
    assert isinstance(data, BaseModel)
    row = model(
        organization_id=principal.organization_id,
        site_id=data.site_id,
        location=await place_of(session, settings, principal, data.site_id, data.location),
        material=await check_material(session, data.material),
        quantity_value=data.quantity.value,
        quantity_unit=data.quantity.unit.value,
        remaining_value=data.quantity.value,
        mass_kg=mass_kg,
        volume_m3=volume_m3,
        status="open",
        **data.model_dump(include=set(plain_fields - {"status"})),
    )
    session.add(row)
    await session.commit()
    return row


def _as_input(row: Listing, plain_fields: frozenset[str]) -> dict[str, Any]:
    return {
        "site_id": row.site_id,
        "location": Point.model_validate(row.location).model_dump(),
        "material": row.material,
        "quantity": {"value": row.quantity_value, "unit": row.quantity_unit},
        "mass_kg": row.mass_kg,
        "volume_m3": row.volume_m3,
        **{field: getattr(row, field) for field in plain_fields},
    }


async def patch_listing(
    row: Listing,
    session: AsyncSession,
    settings: Settings,
    principal: Principal,
    patch: BaseModel,
    stored_schema: type[BaseModel],
    check_material: CheckMaterial,
    plain_fields: frozenset[str],
    noun: str,
) -> None:
    changed = patch.model_fields_set
    current = _as_input(row, plain_fields)
    if "quantity" in changed:
        # Mass and volume follow a new quantity unless given with it.
        current.update(mass_kg=None, volume_m3=None)
    merged: Any = merge_patch(stored_schema, current, patch)
    if "status" in changed and merged.status == "reserved" and row.status != "reserved":
        raise ValidationFailed.field(
            "status", "settable_status", "Set status to open or closed; matches reserve."
        )
    if changed & {"site_id", "location"}:
        row.location = await place_of(
            session,
            settings,
            principal,
            merged.site_id,
            merged.location if "location" in changed or merged.site_id is None else None,
        )
        row.site_id = merged.site_id
    if "material" in changed:
        row.material = await check_material(session, merged.material)
    if changed & {"quantity", "mass_kg", "volume_m3"}:
        row.mass_kg, row.volume_m3 = mass_and_volume(
            merged.quantity, merged.mass_kg, merged.volume_m3
        )
    if "quantity" in changed:
        row.remaining_value = rebased_remaining(
            row.quantity_value, row.quantity_unit, row.remaining_value, merged.quantity
        )
        row.quantity_value, row.quantity_unit = merged.quantity.value, merged.quantity.unit.value
    for field in changed & plain_fields:
        setattr(row, field, getattr(merged, field))
    await commit_versioned(session, noun)
