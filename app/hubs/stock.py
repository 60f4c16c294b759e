"""A hub's stock per lot, and the offer that shows each lot on the market.

Every change of a yard's stock goes through this module, under the hub's lock: a movement
(`record_movement`: an intake, app/hubs/intake.py, or a dispatch, app/hubs/dispatch.py), a
reservation (an accepted match on a lot's offer, app/matches/service.py, ends in
`sync_lot_offer`); after each, the lot's offer is brought in step (`sync_lot_offer`), and by
hand it is never edited (`refuse_lot_offer_edit`)."""

import functools
import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from app.hubs.access import load_hub
from app.hubs.dispatch import dispatch
from app.hubs.intake import take_in
from app.hubs.movements import movement_view
from app.hubs.pooling import refresh_thresholds
from app.hubs.repository import (
    LotBalance,
    family_totals,
    hub_limits,
    lot_balance,
    lot_balances,
    lot_of_offer,
)
from app.hubs.schemas import FamilyStock, Lot, Movement, MovementCreate, MovementKind, Stock
from app.kit.principal import Principal
from app.kit.problems import Conflict
from app.listings.announcements import announce_new_offer_later
from app.models import HubLot, Offer


async def record_movement(
    session: AsyncSession, principal: Principal, hub_id: uuid.UUID, data: MovementCreate
) -> Movement:
    """Every movement of a hub runs under the lock of the hub's row, so two movements of one
    hub never read the same stock: a dispatch cannot drive a lot negative and an intake
    cannot pass the capacity, however many arrive at once."""
    hub = await load_hub(session, principal, hub_id, lock=True)
    new_lot = False
    if data.kind is MovementKind.intake:
        movement, lot, new_lot = await take_in(session, principal, hub, data)
    else:
        movement, lot = await dispatch(session, principal, hub, data)
    balance = await sync_lot_offer(session, lot)
    if new_lot:
        await announce_new_offer_later(session, lot.offer_id)
    await refresh_thresholds(session, [hub.id])
    view = movement_view(movement, lot, balance.stock)
    await session.flush()
    return view


async def sync_lot_offer(session: AsyncSession, lot: HubLot) -> LotBalance:
    """The lot's offer follows its movements and reservations: everything that came in is the
    quantity, what is in stock and not held for a match is what remains to match. Called
    under the hub's lock after each change of either, so the offer never shows more than the
    stock."""
    await session.flush()
    balance = await lot_balance(session, lot)
    offer = await session.get_one(Offer, lot.offer_id, populate_existing=True)
    offer.quantity_value = balance.taken_in
    offer.remaining_value = balance.available
    offer.mass_kg = (
        round(lot.mass_per_unit_kg * balance.taken_in, 3) if lot.mass_per_unit_kg else None
    )
    offer.volume_m3 = (
        round(lot.volume_per_unit_m3 * balance.taken_in, 3) if lot.volume_per_unit_m3 else None
    )
    offer.status = (
        "open" if balance.available > 0 else ("reserved" if balance.reserved > 0 else "closed")
    )
    await session.flush()
    return balance


async def hub_stock(session: AsyncSession, principal: Principal, hub_id: uuid.UUID) -> Stock:
    hub = await load_hub(session, principal, hub_id)
    balances = await lot_balances(session, hub.id)
    limits = {limit.material: limit for limit in await hub_limits(session, hub.id)}

    @functools.cache
    def totals(family: str) -> tuple[float, float]:
        mass_kg, volume = family_totals(balances, family)
        return round(mass_kg / 1000, 3), round(volume, 3)

    whole = limits.get("")
    mass_t, volume = totals("")
    return Stock(
        hub_id=hub.id,
        lots=[
            Lot.model_validate(
                {
                    "lot": b.lot.code,
                    "material": b.lot.material,
                    "condition": b.lot.condition,
                    "unit": b.lot.unit,
                    "stock": round(b.stock, 3),
                    "reserved": round(b.reserved, 3),
                    "available": b.available,
                    "mass_kg": b.mass_kg,
                    "volume_m3": b.volume_m3,
                    "offer_id": b.lot.offer_id,
                    "arrived_at": b.lot.created_at,
                }
            )
            for b in balances
            if b.stock > 0
        ],
        mass_t=mass_t,
        volume_m3=volume,
        capacity_t=whole.max_t if whole else None,
        capacity_m3=whole.max_m3 if whole else None,
        families=[
            FamilyStock(
                material=family,
                mass_t=totals(family)[0],
                volume_m3=totals(family)[1],
                capacity_t=limit.max_t,
                capacity_m3=limit.max_m3,
            )
            for family, limit in limits.items()
            if family
        ],
    )


async def refuse_lot_offer_edit(session: AsyncSession, offer: Offer) -> None:
    """A lot's offer follows the hub's movements; edited by hand it would drift from them."""
    lot = await lot_of_offer(session, offer.id)
    if lot is not None:
        raise Conflict(
            f"This offer shows lot {lot.code} of one of your hubs and follows its movements: "
            f"record an intake or a dispatch at /v1/hubs/{lot.hub_id}/movements instead."
        )
