"""The queries of shared delivery rounds: the services whose zone holds a delivery's ends, a
slot's row (made when first booked, locked by every booking into it), what is booked in it."""

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.deliveries.slots import SlotTime
from app.kit.owned import OwnedRows
from app.models import Delivery, DeliveryQuote, DeliveryService, DeliverySlot, Site, Vehicle
from app.route_plans.inputs import lonlat

SERVICES = OwnedRows(DeliveryService, "delivery service")
QUOTES = OwnedRows(DeliveryQuote, "quote")
DELIVERIES = OwnedRows(Delivery, "delivery")


async def services_reaching(
    session: AsyncSession, pickup: Any, dropoff: Any
) -> list[tuple[DeliveryService, bool, bool]]:
    """The active services whose zone holds the pickup or the drop-off, each with whether it
    holds either (on the zones' index)."""
    holds_pickup = func.ST_Covers(DeliveryService.zone, pickup)
    holds_dropoff = func.ST_Covers(DeliveryService.zone, dropoff)
    rows = await session.execute(
        select(DeliveryService, holds_pickup, holds_dropoff)
        .where(DeliveryService.active, holds_pickup | holds_dropoff)
        .order_by(DeliveryService.created_at, DeliveryService.id)
    )
    return [(service, bool(p), bool(d)) for service, p, d in rows.all()]


async def slot_rows(
    session: AsyncSession, service_id: uuid.UUID, starts: list[datetime]
) -> dict[datetime, DeliverySlot]:
    """The service's slots made so far among these starts."""
    if not starts:
        return {}
    rows = await session.scalars(
        select(DeliverySlot).where(
            DeliverySlot.service_id == service_id, DeliverySlot.starts_at.in_(starts)
        )
    )
    return {row.starts_at: row for row in rows}


async def locked_slot(session: AsyncSession, service_id: uuid.UUID, slot: SlotTime) -> DeliverySlot:
    """The slot's row, made if it is its first booking, locked until the transaction ends:
    bookings into one slot follow one another."""
    await session.execute(
        insert(DeliverySlot)
        .values(
            id=uuid.uuid4(),
            service_id=service_id,
            starts_at=slot.starts_at,
            ends_at=slot.ends_at,
            cutoff_at=slot.cutoff_at,
            status="open",
            plan={},
        )
        .on_conflict_do_nothing(constraint="one_slot_a_start")
    )
    row = (
        await session.execute(
            select(DeliverySlot)
            .where(DeliverySlot.service_id == service_id, DeliverySlot.starts_at == slot.starts_at)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).scalar_one()
    return row


async def locked_slot_by_id(session: AsyncSession, slot_id: uuid.UUID) -> DeliverySlot:
    row = await session.get(DeliverySlot, slot_id, with_for_update=True, populate_existing=True)
    assert row is not None, "a delivery's slot is kept (ON DELETE RESTRICT)"
    return row


async def booked_in(session: AsyncSession, slot_id: uuid.UUID) -> list[Delivery]:
    """The deliveries booked into a slot, in the order they were booked."""
    rows = await session.scalars(
        select(Delivery)
        .where(Delivery.slot_id == slot_id, Delivery.status == "booked")
        .order_by(Delivery.created_at, Delivery.id)
    )
    return list(rows)


@dataclass(frozen=True)
class ServiceFleet:
    """What a service's rounds ride with: its vehicles as they are now, from its hub."""

    vehicles: list[Vehicle]
    hub: tuple[float, float]


async def service_fleet(session: AsyncSession, service: DeliveryService) -> ServiceFleet:
    rows = await session.scalars(
        select(Vehicle).where(Vehicle.id.in_(service.vehicle_ids)).order_by(Vehicle.id)
    )
    hub = await session.get(Site, service.hub_site_id)
    assert hub is not None, "a service's hub is kept (ON DELETE RESTRICT)"
    return ServiceFleet(list(rows), lonlat(hub.location))


async def with_slots(
    session: AsyncSession, deliveries: list[Delivery]
) -> list[tuple[Delivery, DeliverySlot]]:
    """Each delivery with its slot."""
    ids = {d.slot_id for d in deliveries}
    slots = {
        s.id: s for s in await session.scalars(select(DeliverySlot).where(DeliverySlot.id.in_(ids)))
    }
    return [(d, slots[d.slot_id]) for d in deliveries]


async def slots_between(
    session: AsyncSession, service_id: uuid.UUID, first: datetime, last: datetime
) -> list[tuple[DeliverySlot, list[Delivery]]]:
    """The service's slots that start between `first` and `last`, soonest first, each with its
    deliveries in the order they were booked."""
    slots = list(
        await session.scalars(
            select(DeliverySlot)
            .where(
                DeliverySlot.service_id == service_id,
                DeliverySlot.starts_at >= first,
                DeliverySlot.starts_at < last,
            )
            .order_by(DeliverySlot.starts_at)
        )
    )
    deliveries = await session.scalars(
        select(Delivery)
        .where(Delivery.slot_id.in_([s.id for s in slots]))
        .order_by(Delivery.created_at, Delivery.id)
    )
    by_slot: dict[uuid.UUID, list[Delivery]] = {s.id: [] for s in slots}
    for delivery in deliveries:
        by_slot[delivery.slot_id].append(delivery)
    return [(slot, by_slot[slot.id]) for slot in slots]
