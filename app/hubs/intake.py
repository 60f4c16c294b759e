"""An intake: material that arrives at a yard, into a new lot or an existing one."""

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from app.hubs.capacity import check_intake_capacity
from app.hubs.fulfilment import fulfil
from app.hubs.measures import movement_measures
from app.hubs.movement_fields import add_movement, refuse_fields, require_one_of
from app.hubs.repository import (
    lot_balances,
    lot_by_code,
    lot_of_offer,
    match_deliveries,
    matches_for_buyer,
)
from app.hubs.schemas import MovementCreate
from app.kit.field_checks import FieldChecks
from app.kit.local_time import brussels_today
from app.kit.principal import Principal
from app.kit.problems import Conflict, FieldError, ValidationFailed
from app.materials.service import check_offer_material
from app.models import HubLot, HubMovement, Match, Material, Offer, Site
from app.quantity_locks import lock_in_order

_EPSILON = 1e-6
# All a lot ever took in is its offer's quantity, which the offers' columns hold up to this.
MAX_TAKEN_IN = 1e12


async def take_in(
    session: AsyncSession, principal: Principal, hub: Site, data: MovementCreate
) -> tuple[HubMovement, HubLot, bool]:
    """Records the intake; answers the movement, its lot and whether the lot is new. The
    caller holds the hub's lock."""
    checks = FieldChecks()
    checks.check_now(lambda: refuse_fields(data, ("match_id", "shipment_id"), "an intake"))
    checks.check_now(
        lambda: require_one_of(
            data, ("offer_id", "walk_in"), "an intake comes from an offer or a walk-in supplier"
        )
    )
    checks.raise_failures()
    lot = await lot_by_code(session, hub.id, data.lot) if data.lot else None
    source: Offer | None = None
    match: Match | None = None
    completes_match = False
    if data.offer_id is not None:
        source = await session.get(Offer, data.offer_id)
        if source is None:
            raise ValidationFailed.field("offer_id", "known_offer", f"No offer {data.offer_id}.")
        if data.quantity.unit.value != source.quantity_unit:
            raise ValidationFailed.field(
                "quantity.unit",
                "same_as_offer",
                f"The offer counts in {source.quantity_unit}; give the intake in that unit.",
            )
        match, completes_match = await _match_delivering(
            session, principal, source, lot, data.quantity.value
        )
    else:
        await lock_in_order(session, offers=[lot.offer_id if lot else None])
    material = data.material or (source.material if source else None)
    condition = data.condition.value if data.condition else (source.condition if source else None)
    if lot is None:
        missing = [
            FieldError(name, "required_for_new_lot", message)
            for name, given, message in (
                ("material", material, "A new lot needs its 6-digit EWC code."),
                ("condition", condition, "A new lot needs its condition (A, B or C)."),
            )
            if given is None
        ]
        if missing:
            raise ValidationFailed(missing)
        assert material is not None
        material = await check_offer_material(session, material)
    else:
        unlike = [
            FieldError(name, "same_as_lot", f"Lot {lot.code} is {known}; an intake adds the same.")
            for name, given, known in (
                ("material", material, lot.material),
                ("condition", condition, lot.condition),
                ("quantity.unit", data.quantity.unit.value, lot.unit),
            )
            if given is not None and given != known
        ]
        if unlike:
            raise ValidationFailed(unlike)
        material = lot.material
    mass_kg, volume_m3 = movement_measures(data, lot, source)
    balances = await lot_balances(session, hub.id)
    taken_in = next((b.taken_in for b in balances if lot is not None and b.lot.id == lot.id), 0.0)
    if taken_in + data.quantity.value > MAX_TAKEN_IN:
        raise ValidationFailed.field(
            "quantity.value",
            "lot_total",
            f"A lot takes in at most {MAX_TAKEN_IN:g} {data.quantity.unit.value} in all; "
            "take this in as a new lot.",
        )
    await check_intake_capacity(session, hub, balances, material, mass_kg, volume_m3)

    new_lot = lot is None
    if lot is None:
        assert condition is not None
        lot = await _new_lot(session, principal, hub, data, material, condition)
        lot.mass_per_unit_kg = mass_kg / data.quantity.value if mass_kg else None
        lot.volume_per_unit_m3 = volume_m3 / data.quantity.value if volume_m3 else None
    if match is not None and completes_match:
        fulfil(match)
    movement = await add_movement(
        session, principal, lot, data, (mass_kg, volume_m3), match.id if match else None
    )
    return movement, lot, new_lot


async def _match_delivering(
    session: AsyncSession,
    principal: Principal,
    offer: Offer,
    lot: HubLot | None,
    quantity: float,
) -> tuple[Match, bool]:
    """The operator's oldest match that brings this much of the offer's material to the yard,
    locked, and whether the intake completes it.

    The supplier's material is only the yard's to take in once a match of the yard's own
    request reserved it. From a company's offer, that is an accepted match, which the yard's
    intakes deliver: each takes at most what is left of it, and the one that reaches its
    quantity fulfils it. From another hub's lot, the match is the other hub's to deliver, by
    recording its dispatches: the intakes take in what those dispatched, and no more, and
    leave the match as it is."""
    from_hub = await lot_of_offer(session, offer.id)
    statuses = ("accepted", "fulfilled") if from_hub is not None else ("accepted",)
    found = await matches_for_buyer(session, offer.id, principal.organization_id, statuses)
    waiting = [m for m, left in (await _left_to_take_in(session, found, from_hub)).items() if left]
    # Read again under the locks: what is left of each is what the intake may take.
    await lock_in_order(session, offers=[lot.offer_id if lot else None], matches=waiting)
    left_of = await _left_to_take_in(session, waiting, from_hub)
    for match_id, left in left_of.items():
        if quantity <= left + _EPSILON:
            match = await session.get_one(Match, match_id)
            return match, from_hub is None and quantity >= left - _EPSILON
    most = max([0.0, *left_of.values()])
    if most > _EPSILON:
        raise Conflict(
            f"Your matches on this offer have at most {most:g} {offer.quantity_unit} left to "
            f"take in; the intake is {quantity:g}. Nothing was recorded.",
            left_to_take_in=round(most, 3),
        )
    if from_hub is not None:
        raise Conflict(
            f"This offer shows a lot of another hub; its operator records the dispatches of "
            f"your accepted match (POST /v1/hubs/{from_hub.hub_id}/movements with its "
            "match_id), and then you take in what they sent. Nothing dispatched to a match of "
            "yours on it waits to be taken in."
        )
    raise Conflict(
        "You hold no accepted match on this offer with anything left to take in. Propose one "
        "from a request of yours and have both sides accept it: then its quantity is reserved "
        "for your yard."
    )


async def _left_to_take_in(
    session: AsyncSession, match_ids: list[uuid.UUID], from_hub: HubLot | None
) -> dict[uuid.UUID, float]:
    """What each match has left for the buyer to take in (0 when nothing), in the order
    given: from a company's offer, while the match is accepted, its quantity less the
    intakes; from a hub's lot, what the hub's dispatches sent less the intakes."""
    deliveries = await match_deliveries(session, match_ids)
    left_of = {}
    for match_id in match_ids:
        match = await session.get_one(Match, match_id, populate_existing=True)
        moved = deliveries[match_id]
        if from_hub is not None:
            left = moved.dispatched - moved.taken_in
        elif match.status == "accepted":
            left = match.offer_quantity_value - moved.taken_in
        else:
            left = 0.0
        left_of[match_id] = round(left, 3) if left > _EPSILON else 0.0
    return left_of


async def _new_lot(
    session: AsyncSession,
    principal: Principal,
    hub: Site,
    data: MovementCreate,
    material: str,
    condition: str,
) -> HubLot:
    """A lot and the offer that puts it on the market, at the hub, in the operator's name."""
    code = data.lot or f"L-{brussels_today():%Y%m%d}-{uuid.uuid4().hex[:6].upper()}"
    described = await session.get_one(Material, material)
    offer = Offer(
        id=uuid.uuid4(),
        organization_id=principal.organization_id,
        site_id=hub.id,
        location=hub.location,
        material=material,
        title=f"{described.description[:120]}, lot {code} at {hub.name}"[:200],
        description=f"In stock at {hub.name}; kept in step with the yard's movements.",
        quantity_value=data.quantity.value,
        quantity_unit=data.quantity.unit.value,
        remaining_value=0,
        available_from=brussels_today(),
        condition=condition,
        price_per_unit=data.price_per_unit,
        status="closed",
    )
    session.add(offer)
    await session.flush()
    lot = HubLot(
        id=uuid.uuid4(),
        hub_id=hub.id,
        organization_id=principal.organization_id,
        code=code,
        material=material,
        condition=condition,
        unit=data.quantity.unit.value,
        price_per_unit=data.price_per_unit,
        offer_id=offer.id,
    )
    session.add(lot)
    await session.flush()
    return lot
