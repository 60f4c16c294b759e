"""A hub's movements: recorded one at a time under the hub's lock, append-only, and listed
with the lot's stock after each."""

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import Principal
from app.errors import NotFound
from app.hubs.access import load_hub
from app.hubs.dispatch import dispatch
from app.hubs.intake import take_in
from app.hubs.pooling import refresh_thresholds
from app.hubs.repository import MOVEMENTS_ORDER, movements_with_stock_after
from app.hubs.schemas import Movement, MovementCreate, MovementKind
from app.hubs.stock import sync_lot_offer
from app.kit.pagination import PageParams, keyset_page
from app.listings.announcements import announce_new_offer_later
from app.models import HubLot, HubMovement


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


def movement_view(movement: HubMovement, lot: HubLot, stock_after: float) -> Movement:
    return Movement.model_validate(
        {
            **{f: getattr(movement, f) for f in Movement.model_fields if hasattr(movement, f)},
            "lot": lot.code,
            "material": lot.material,
            "condition": lot.condition,
            "quantity": {"value": movement.quantity_value, "unit": lot.unit},
            "lot_stock_after": round(stock_after, 3),
        }
    )


async def list_movements(
    session: AsyncSession,
    principal: Principal,
    hub_id: uuid.UUID,
    page: PageParams,
) -> list[Movement]:
    """The hub's movements, newest first, each with its lot's stock right after it."""
    hub = await load_hub(session, principal, hub_id)
    query = keyset_page(movements_with_stock_after(hub.id), MOVEMENTS_ORDER, page)
    rows = (await session.execute(query)).all()
    return [movement_view(m, lot, float(stock)) for m, lot, stock in rows]


async def get_movement(
    session: AsyncSession, principal: Principal, hub_id: uuid.UUID, movement_id: uuid.UUID
) -> Movement:
    hub = await load_hub(session, principal, hub_id)
    query = movements_with_stock_after(hub.id).where(HubMovement.id == movement_id)
    row = (await session.execute(query)).one_or_none()
    if row is None:
        raise NotFound(f"No movement {movement_id} in this hub.")
    movement, lot, stock = row
    return movement_view(movement, lot, float(stock))
