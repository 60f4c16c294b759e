"""A dispatch: material that leaves a lot, for an accepted match on the lot's offer or for a
shipment that collects at the hub."""

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import Principal
from app.errors import Conflict, FieldError, ValidationFailed
from app.hubs.measures import movement_measures
from app.hubs.movement_fields import add_movement, refuse_fields, require_one_of
from app.hubs.repository import lot_by_code, shipment_collecting_at
from app.hubs.schemas import MovementCreate
from app.hubs.stock import lot_balance
from app.kit.field_checks import FieldChecks
from app.matches.fulfilment import fulfil
from app.models import HubLot, HubMovement, Match, Site
from app.quantity_locks import lock_in_order

# How far from the hub a shipment may start and still collect from it.
PICKUP_AT_HUB_M = 150
_EPSILON = 1e-6


async def dispatch(
    session: AsyncSession, principal: Principal, hub: Site, data: MovementCreate
) -> tuple[HubMovement, HubLot]:
    """Records the dispatch; answers the movement and its lot. The caller holds the hub's
    lock; the lot's stock is read once its offer and the match are locked too."""
    checks = FieldChecks()
    checks.check_now(lambda: refuse_fields(data, ("offer_id", "walk_in"), "a dispatch"))
    checks.check_now(
        lambda: require_one_of(
            data, ("match_id", "shipment_id"), "a dispatch goes to a match or a shipment"
        )
    )
    if data.lot is None:
        checks.errors.append(FieldError("lot", "required_for_dispatch", "Name the lot it leaves."))
    checks.raise_failures()
    assert data.lot is not None
    lot = await lot_by_code(session, hub.id, data.lot)
    if lot is None:
        raise ValidationFailed.field("lot", "known_lot", f"No lot {data.lot} in this hub.")
    if data.quantity.unit.value != lot.unit:
        raise ValidationFailed.field(
            "quantity.unit", "same_as_lot", f"Lot {lot.code} counts in {lot.unit}."
        )
    match: Match | None = None
    if data.match_id is not None:
        match = await session.get(Match, data.match_id)
        if match is None or match.offer_id != lot.offer_id:
            raise ValidationFailed.field(
                "match_id", "match_of_lot", f"No match on lot {lot.code}'s offer {lot.offer_id}."
            )
    elif data.shipment_id is not None and not await shipment_collecting_at(
        session, hub.id, data.shipment_id, PICKUP_AT_HUB_M
    ):
        raise ValidationFailed.field(
            "shipment_id",
            "shipment_from_hub",
            f"No shipment {data.shipment_id} collecting within {PICKUP_AT_HUB_M} m of this hub.",
        )
    await lock_in_order(session, offers=[lot.offer_id], matches=[data.match_id])
    if match is not None:
        await session.refresh(match)
    balance = await lot_balance(session, lot)
    quantity = data.quantity.value
    if quantity > balance.stock + _EPSILON:
        raise Conflict(
            f"Lot {lot.code} holds {balance.stock:g} {lot.unit}; the dispatch is {quantity:g}. "
            "Nothing was recorded.",
            stock=balance.stock,
        )
    free = balance.available
    if match is not None:
        if match.status != "accepted":
            raise Conflict(f"This match is {match.status}: only an accepted match is served.")
        # The match's own reservation is there for it; what others hold is not.
        free = balance.available + match.offer_quantity_value
        fulfil(match)
    if quantity > free + _EPSILON:
        raise Conflict(
            f"Only {free:g} {lot.unit} of lot {lot.code} are free; accepted matches hold "
            f"{balance.reserved:g}. Nothing was recorded.",
            available=free,
        )
    measures = movement_measures(data, lot, None)
    movement = await add_movement(session, principal, lot, data, measures, data.match_id)
    return movement, lot
