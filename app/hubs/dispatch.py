"""A dispatch: material that leaves a lot, for an accepted match on the lot's offer (all that
is left of it, or a part) or for a shipment of the operator's own that collects at the hub."""

from sqlalchemy.ext.asyncio import AsyncSession

from app.hubs.fulfilment import fulfil
from app.hubs.measures import movement_measures
from app.hubs.movement_fields import add_movement, refuse_fields, require_one_of
from app.hubs.repository import (
    lot_balance,
    lot_by_code,
    match_deliveries,
    own_shipment_collecting_at,
)
from app.hubs.schemas import MovementCreate
from app.kit.field_checks import FieldChecks
from app.kit.principal import Principal
from app.kit.problems import Conflict, FieldError, ValidationFailed
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
    elif data.shipment_id is not None and not await own_shipment_collecting_at(
        session, hub, data.shipment_id, PICKUP_AT_HUB_M
    ):
        # Another organization's shipment is answered as an unknown one: a dispatch would
        # pin it (its owner could no longer delete it), and its existence is not ours to tell.
        raise ValidationFailed.field(
            "shipment_id",
            "shipment_from_hub",
            f"No shipment {data.shipment_id} of yours collecting within {PICKUP_AT_HUB_M} m "
            "of this hub.",
        )
    await lock_in_order(session, offers=[lot.offer_id], matches=[data.match_id])
    quantity = data.quantity.value
    completes_match = False
    if match is not None:
        await session.refresh(match)
        completes_match = await _check_match_takes(session, match, lot, quantity)
    balance = await lot_balance(session, lot)
    if quantity > balance.stock + _EPSILON:
        raise Conflict(
            f"Lot {lot.code} holds {balance.stock:g} {lot.unit}; the dispatch is {quantity:g}. "
            "Nothing was recorded.",
            stock=balance.stock,
        )
    # What a match still holds is there for it (it took no more than that); what accepted
    # matches hold is not for a shipment.
    if match is None and quantity > balance.available + _EPSILON:
        raise Conflict(
            f"Only {balance.available:g} {lot.unit} of lot {lot.code} are free; accepted matches "
            f"hold {balance.reserved:g}. Nothing was recorded.",
            available=balance.available,
        )
    if completes_match:
        assert match is not None
        fulfil(match)
    measures = movement_measures(data, lot, None)
    movement = await add_movement(session, principal, lot, data, measures, data.match_id)
    return movement, lot


async def _check_match_takes(
    session: AsyncSession, match: Match, lot: HubLot, quantity: float
) -> bool:
    """Refuses a dispatch to a match that is not accepted, or larger than what is left of it
    to deliver; answers whether the dispatch completes the match. The caller holds the
    match's lock."""
    if match.status != "accepted":
        raise Conflict(f"This match is {match.status}: only an accepted match is served.")
    delivered = (await match_deliveries(session, [match.id]))[match.id].delivered
    left = round(match.offer_quantity_value - delivered, 3)
    if quantity > left + _EPSILON:
        raise Conflict(
            f"This match takes {match.offer_quantity_value:g} {lot.unit}, of which "
            f"{delivered:g} were dispatched: {left:g} are left to deliver; the dispatch is "
            f"{quantity:g}. Nothing was recorded.",
            to_deliver=left,
        )
    return quantity >= left - _EPSILON
