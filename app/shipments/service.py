"""Shipments: transport jobs posted by a carrier or taken from an accepted match. A route plan
copies the shipments it uses when it is asked for (app/route_plans/inputs.py), so a shipment
changed or deleted afterwards leaves the plans already asked for as they were."""

import uuid
from datetime import datetime, time

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.field_checks import FieldChecks
from app.kit.local_time import BRUSSELS
from app.kit.owned import OwnedRows
from app.kit.pagination import PageParams
from app.kit.principal import Principal
from app.kit.problems import Conflict, ValidationFailed
from app.matches.service import get_match
from app.models import Match, MaterialRequest, Offer, ShipmentRow
from app.settings import Settings
from app.shipments.schemas import (
    MatchShipmentCreate,
    ShipmentCreate,
    ShipmentPatch,
    shipment_view,
)
from app.sites.service import place_of

SHIPPING_ROLES = ("carrier", "hub_operator", "supplier", "consumer")
SHIPMENTS = OwnedRows(ShipmentRow, "shipment")


async def build_shipment(
    session: AsyncSession, settings: Settings, principal: Principal, data: ShipmentCreate
) -> ShipmentRow:
    """The shipment as described, its places found; not added to the session (a route
    plan's inline shipments are built so too, and never stored)."""
    checks = FieldChecks()
    pickup = await checks.check(
        place_of(session, settings, principal, data.pickup.site_id, data.pickup.location),
        "pickup",
    )
    delivery = await checks.check(
        place_of(session, settings, principal, data.delivery.site_id, data.delivery.location),
        "delivery",
    )
    checks.raise_failures()
    return ShipmentRow(
        id=uuid.uuid4(),
        organization_id=principal.organization_id,
        reference=data.reference,
        pickup_location=pickup,
        pickup_from=data.pickup.window_from,
        pickup_until=data.pickup.window_until,
        pickup_service_s=data.pickup.service_s,
        delivery_location=delivery,
        delivery_from=data.delivery.window_from,
        delivery_until=data.delivery.window_until,
        delivery_service_s=data.delivery.service_s,
        load_kg=data.load_kg,
        load_m3=data.load_m3,
    )


async def create_shipment(
    session: AsyncSession, settings: Settings, principal: Principal, data: ShipmentCreate
) -> ShipmentRow:
    principal.require_role(*SHIPPING_ROLES)
    shipment = await build_shipment(session, settings, principal, data)
    session.add(shipment)
    await session.flush()
    return shipment


async def list_shipments(
    session: AsyncSession, principal: Principal, page: PageParams
) -> list[ShipmentRow]:
    """The organization's shipments, oldest first."""
    return await SHIPMENTS.page(session, principal, page)


async def get_shipment(
    session: AsyncSession, principal: Principal, shipment_id: uuid.UUID
) -> ShipmentRow:
    return await SHIPMENTS.readable(session, principal, shipment_id)


# The columns of each end of a shipment, rewritten when a patch replaces that end.
_END_COLUMNS = ("location", "from", "until", "service_s")


async def update_shipment(
    session: AsyncSession,
    settings: Settings,
    principal: Principal,
    shipment_id: uuid.UUID,
    patch: ShipmentPatch,
    if_match: str | None,
) -> ShipmentRow:
    """The shipment after the patch, built by the rules of a create from what it is and what
    the patch changes; nothing is written unless the whole result is valid. Its match stays."""
    row = await SHIPMENTS.writable(session, principal, shipment_id, if_match)
    changed = patch.model_fields_set
    current = shipment_view(row).model_dump(include=set(ShipmentCreate.model_fields))
    merged = SHIPMENTS.patched(ShipmentCreate, current, patch)
    rebuilt = await build_shipment(session, settings, principal, merged)
    for column in ("reference", "load_kg", "load_m3"):
        setattr(row, column, getattr(rebuilt, column))
    for end in changed & {"pickup", "delivery"}:
        for column in (f"{end}_{part}" for part in _END_COLUMNS):
            setattr(row, column, getattr(rebuilt, column))
    # The row is locked (SHIPMENTS.writable) from the If-Match check to the commit.
    row.version += 1
    await SHIPMENTS.flush(session)
    return row


async def delete_shipment(
    session: AsyncSession, principal: Principal, shipment_id: uuid.UUID, if_match: str | None
) -> None:
    """Deletes the shipment, unless a hub movement names it: the movements are the yards'
    record and stay whole. The route plans that use it keep their copy of it."""
    shipment = await SHIPMENTS.writable(session, principal, shipment_id, if_match)
    try:
        # A savepoint: the refused delete leaves the request's transaction usable.
        async with session.begin_nested():
            await session.delete(shipment)
    except IntegrityError:
        raise Conflict(
            "A hub movement names this shipment (a dispatch it took away), and movements are "
            "never changed: the shipment stays."
        ) from None


def _volume_of(match: Match, offer: Offer) -> float:
    """The match's share of the offer's volume, 0 when the offer gives none."""
    if offer.volume_m3 is None or not offer.quantity_value:
        return 0.0
    return round(offer.volume_m3 * match.offer_quantity_value / offer.quantity_value, 3)


async def shipment_from_match(
    session: AsyncSession, principal: Principal, match_id: uuid.UUID, data: MatchShipmentCreate
) -> ShipmentRow:
    """The transport of an accepted match, posted by either of its sides."""
    principal.require_role(*SHIPPING_ROLES)
    match = await get_match(session, principal, match_id)
    if match.status != "accepted":
        raise Conflict(f"This match is {match.status}: only an accepted match is shipped.")
    if match.mass_kg is None:
        raise ValidationFailed.field(
            "load_kg", "known_mass", "The match's mass is unknown; post the shipment with its load."
        )
    offer = await session.get_one(Offer, match.offer_id)
    request = await session.get_one(MaterialRequest, match.request_id)
    day = max(offer.available_from, request.needed_from)

    def at(hour: int) -> datetime:
        return datetime.combine(day, time(hour), tzinfo=BRUSSELS)

    shipment = ShipmentRow(
        id=uuid.uuid4(),
        organization_id=principal.organization_id,
        reference=f"match {match.id}",
        pickup_location=offer.location,
        pickup_from=data.pickup_from or at(8),
        pickup_until=data.pickup_until or at(17),
        pickup_service_s=600,
        delivery_location=request.location,
        delivery_from=data.delivery_from or at(9),
        delivery_until=data.delivery_until or at(18),
        delivery_service_s=600,
        load_kg=match.mass_kg,
        load_m3=data.load_m3 if data.load_m3 is not None else _volume_of(match, offer),
        match_id=match.id,
    )
    if (
        shipment.pickup_from > shipment.pickup_until
        or shipment.delivery_from > shipment.delivery_until
    ):
        raise ValidationFailed.field(
            "pickup_until", "window_ordered", "Each window must end after it starts."
        )
    session.add(shipment)
    await session.flush()
    return shipment
