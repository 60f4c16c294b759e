"""Which fields each kind of movement takes, and the row it writes."""

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from app.hubs.schemas import MovementCreate
from app.kit.principal import Principal
from app.kit.problems import FieldError, ValidationFailed
from app.models import HubLot, HubMovement


def refuse_fields(data: MovementCreate, fields: tuple[str, ...], what: str) -> None:
    """Refuses, all at once, the fields this kind of movement does not take."""
    refused = [
        FieldError(field, "not_for_kind", f"{what.capitalize()} has no {field}.")
        for field in fields
        if getattr(data, field) is not None
    ]
    if refused:
        raise ValidationFailed(refused)


def require_one_of(data: MovementCreate, fields: tuple[str, str], message: str) -> None:
    given = [f for f in fields if getattr(data, f) is not None]
    if len(given) != 1:
        raise ValidationFailed.field(
            fields[0] if not given else fields[1],
            "exactly_one",
            f"{message}: give one of {' or '.join(fields)}.",
        )


async def add_movement(
    session: AsyncSession,
    principal: Principal,
    lot: HubLot,
    data: MovementCreate,
    measures: tuple[float | None, float | None],
    match_id: uuid.UUID | None,
) -> HubMovement:
    """The movement's row, with the fields its kind takes (the others were refused)."""
    movement = HubMovement(
        id=uuid.uuid4(),
        hub_id=lot.hub_id,
        lot_id=lot.id,
        organization_id=principal.organization_id,
        kind=data.kind.value,
        quantity_value=data.quantity.value,
        mass_kg=measures[0],
        volume_m3=measures[1],
        offer_id=data.offer_id,
        match_id=match_id,
        walk_in=data.walk_in,
        shipment_id=data.shipment_id,
        note=data.note,
    )
    session.add(movement)
    await session.flush()
    return movement
