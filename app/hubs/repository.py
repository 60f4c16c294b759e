"""The queries of the hubs domain. Stock is always summed from the movements."""

import uuid
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.local_time import brussels_today
from app.kit.pagination import newest_first
from app.kit.spatial import geography
from app.models import (
    HubLimit,
    HubLot,
    HubMovement,
    HubPoolingThreshold,
    Match,
    MaterialRequest,
    Offer,
    ShipmentRow,
    Site,
)


def signed_quantity() -> ColumnElement[float]:
    """A movement's quantity as it counts in stock: intakes add, dispatches take away."""
    return case(
        (HubMovement.kind == "intake", HubMovement.quantity_value),
        else_=-HubMovement.quantity_value,
    )


_TAKEN_IN = case((HubMovement.kind == "intake", HubMovement.quantity_value), else_=0)


@dataclass(frozen=True)
class LotBalance:
    lot: HubLot
    # In the lot's unit: what is in the hub, all that ever came in, and what accepted matches
    # hold of it until they are dispatched.
    stock: float
    taken_in: float
    reserved: float

    @property
    def available(self) -> float:
        return round(max(0.0, self.stock - self.reserved), 3)

    @property
    def mass_kg(self) -> float | None:
        per_unit = self.lot.mass_per_unit_kg
        return None if per_unit is None else round(per_unit * self.stock, 3)

    @property
    def volume_m3(self) -> float | None:
        per_unit = self.lot.volume_per_unit_m3
        return None if per_unit is None else round(per_unit * self.stock, 3)


async def lot_balances(
    session: AsyncSession, hub_id: uuid.UUID, lot_id: uuid.UUID | None = None
) -> list[LotBalance]:
    sums = (
        select(
            HubMovement.lot_id,
            func.sum(signed_quantity()).label("stock"),
            func.sum(_TAKEN_IN).label("taken_in"),
        )
        .group_by(HubMovement.lot_id)
        .subquery()
    )
    # An accepted match holds what it takes from the offer less what was dispatched to it.
    dispatched = (
        select(HubMovement.match_id, func.sum(HubMovement.quantity_value).label("dispatched"))
        .where(HubMovement.kind == "dispatch", HubMovement.hub_id == hub_id)
        .group_by(HubMovement.match_id)
        .subquery()
    )
    held = (
        select(
            Match.offer_id,
            func.sum(Match.offer_quantity_value - func.coalesce(dispatched.c.dispatched, 0)).label(
                "reserved"
            ),
        )
        .outerjoin(dispatched, dispatched.c.match_id == Match.id)
        .where(
            Match.status == "accepted",
            Match.offer_id.in_(select(HubLot.offer_id).where(HubLot.hub_id == hub_id)),
        )
        .group_by(Match.offer_id)
        .subquery()
    )
    query = (
        select(
            HubLot,
            func.coalesce(sums.c.stock, 0),
            func.coalesce(sums.c.taken_in, 0),
            func.coalesce(held.c.reserved, 0),
        )
        .outerjoin(sums, sums.c.lot_id == HubLot.id)
        .outerjoin(held, held.c.offer_id == HubLot.offer_id)
        .where(HubLot.hub_id == hub_id)
        .order_by(HubLot.created_at, HubLot.code)
    )
    if lot_id is not None:
        query = query.where(HubLot.id == lot_id)
    rows = (await session.execute(query)).all()
    return [
        LotBalance(lot, float(stock), float(taken_in), float(reserved))
        for lot, stock, taken_in, reserved in rows
    ]


async def lot_balance(session: AsyncSession, lot: HubLot) -> LotBalance:
    (balance,) = await lot_balances(session, lot.hub_id, lot.id)
    return balance


def family_totals(balances: list[LotBalance], family: str) -> tuple[float, float]:
    """Mass (kg) and volume (m3) in stock of a material family ('' is every lot)."""
    lots = [b for b in balances if b.lot.material.startswith(family)]
    return sum(b.mass_kg or 0.0 for b in lots), sum(b.volume_m3 or 0.0 for b in lots)


async def hub_limits(session: AsyncSession, hub_id: uuid.UUID) -> list[HubLimit]:
    """The hub's capacities: '' for the whole hub, then per material family."""
    query = select(HubLimit).where(HubLimit.hub_id == hub_id).order_by(HubLimit.material)
    return list((await session.scalars(query)).all())


@dataclass(frozen=True)
class NearbySupply:
    offers: int
    mass_kg: float


async def offered_near(
    session: AsyncSession, hub: Site, family: str, radius_km: float
) -> NearbySupply:
    """What other organizations still offer, unreserved, of a family within a radius of the
    hub (the operator's own offers are its stock, counted already). Offers of unknown mass
    cannot be weighed and are left out."""
    unreserved_kg = Offer.mass_kg * Offer.remaining_value / Offer.quantity_value
    query = select(func.count(), func.coalesce(func.sum(unreserved_kg), 0)).where(
        Offer.status == "open",
        Offer.organization_id != hub.organization_id,
        Offer.material.startswith(family),
        Offer.mass_kg.is_not(None),
        (Offer.available_until.is_(None)) | (Offer.available_until >= brussels_today()),
        func.ST_DWithin(
            geography(Offer.location),
            geography(select(Site.location).where(Site.id == hub.id).scalar_subquery()),
            radius_km * 1000,
        ),
    )
    count, mass = (await session.execute(query)).one()
    return NearbySupply(int(count), float(mass or 0.0))


async def lot_of_offer(session: AsyncSession, offer_id: uuid.UUID) -> HubLot | None:
    """The hub lot an offer puts on the market, if it is such an offer."""
    return await session.scalar(select(HubLot).where(HubLot.offer_id == offer_id))


async def lot_by_code(session: AsyncSession, hub_id: uuid.UUID, code: str) -> HubLot | None:
    return await session.scalar(select(HubLot).where(HubLot.hub_id == hub_id, HubLot.code == code))


async def thresholds_of(
    session: AsyncSession, hub_id: uuid.UUID, *, lock: bool = False
) -> list[HubPoolingThreshold]:
    query = (
        select(HubPoolingThreshold)
        .where(HubPoolingThreshold.hub_id == hub_id)
        .order_by(HubPoolingThreshold.material)
    )
    if lock:
        query = query.with_for_update()
    return list((await session.scalars(query)).all())


async def hubs_with_thresholds(session: AsyncSession) -> list[uuid.UUID]:
    query = select(HubPoolingThreshold.hub_id).distinct()
    return list((await session.scalars(query)).all())


async def hubs_pooling_near(session: AsyncSession, offer: Offer) -> list[uuid.UUID]:
    """Other organizations' hubs with a threshold this offer counts towards (its family,
    within the radius)."""
    query = (
        select(HubPoolingThreshold.hub_id)
        .join(Site, Site.id == HubPoolingThreshold.hub_id)
        .where(
            Site.organization_id != offer.organization_id,
            func.starts_with(offer.material, HubPoolingThreshold.material),
            func.ST_DWithin(
                geography(Site.location),
                geography(select(Offer.location).where(Offer.id == offer.id).scalar_subquery()),
                HubPoolingThreshold.radius_km * 1000,
            ),
        )
        .distinct()
    )
    return list((await session.scalars(query)).all())


async def own_shipment_collecting_at(
    session: AsyncSession, hub: Site, shipment_id: uuid.UUID, within_m: float
) -> bool:
    """Whether the shipment is one of the hub's organization's and collects within
    `within_m` of the hub. It is then held (FOR KEY SHARE) until the transaction ends, so
    that a delete of it waits for the dispatch that names it, and then answers 409."""
    hub_location = select(Site.location).where(Site.id == hub.id).scalar_subquery()
    found = await session.scalar(
        select(ShipmentRow.id)
        .where(
            ShipmentRow.id == shipment_id,
            ShipmentRow.organization_id == hub.organization_id,
            func.ST_DWithin(
                geography(ShipmentRow.pickup_location), geography(hub_location), within_m
            ),
        )
        .with_for_update(read=True, key_share=True)
    )
    return found is not None


def movements_with_stock_after(hub_id: uuid.UUID) -> Select[Any]:
    """The hub's movements, each with its lot and the lot's stock right after it (in the
    order of `MOVEMENTS_ORDER`, once paged)."""
    running = (
        select(
            HubMovement.id,
            func.sum(signed_quantity())
            .over(
                partition_by=HubMovement.lot_id,
                order_by=(HubMovement.created_at, HubMovement.id),
            )
            .label("stock_after"),
        )
        .where(HubMovement.hub_id == hub_id)
        .subquery()
    )
    return (
        select(HubMovement, HubLot, running.c.stock_after)
        .join(HubLot, HubLot.id == HubMovement.lot_id)
        .join(running, running.c.id == HubMovement.id)
    )


MOVEMENTS_ORDER = newest_first(HubMovement)


@dataclass(frozen=True)
class MatchDeliveries:
    """What the yards' movements moved of a match, in its offer's unit."""

    # Whether the match takes from a hub's lot (its offer shows one).
    from_lot: bool
    # Sent by the selling yard's dispatches, and taken in by the buying yard's intakes.
    dispatched: float
    taken_in: float

    @property
    def delivered(self) -> float:
        """What left the seller for the buyer: the dispatches of a lot, or the intakes from
        a company's offer (the yard takes it from the company's site)."""
        return self.dispatched if self.from_lot else self.taken_in


async def match_deliveries(
    session: AsyncSession, match_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, MatchDeliveries]:
    """The deliveries of each of these matches (none moved: zeros)."""
    if not match_ids:
        return {}
    sums = (
        select(
            HubMovement.match_id,
            func.sum(HubMovement.quantity_value)
            .filter(HubMovement.kind == "dispatch")
            .label("dispatched"),
            func.sum(HubMovement.quantity_value)
            .filter(HubMovement.kind == "intake")
            .label("taken_in"),
        )
        .where(HubMovement.match_id.in_(match_ids))
        .group_by(HubMovement.match_id)
        .subquery()
    )
    from_lot = select(HubLot.id).where(HubLot.offer_id == Match.offer_id).exists()
    rows = await session.execute(
        select(
            Match.id,
            from_lot,
            func.coalesce(sums.c.dispatched, 0),
            func.coalesce(sums.c.taken_in, 0),
        )
        .outerjoin(sums, sums.c.match_id == Match.id)
        .where(Match.id.in_(match_ids))
    )
    return {
        match_id: MatchDeliveries(bool(lot), float(dispatched), float(taken_in))
        for match_id, lot, dispatched, taken_in in rows
    }


async def matches_for_buyer(
    session: AsyncSession, offer_id: uuid.UUID, buyer_id: uuid.UUID, statuses: tuple[str, ...]
) -> list[uuid.UUID]:
    """The matches in these statuses between an offer and the buyer's requests, oldest
    first."""
    query = (
        select(Match.id)
        .join(MaterialRequest, MaterialRequest.id == Match.request_id)
        .where(
            Match.offer_id == offer_id,
            Match.status.in_(statuses),
            MaterialRequest.organization_id == buyer_id,
        )
        .order_by(Match.created_at, Match.id)
    )
    return list((await session.scalars(query)).all())
