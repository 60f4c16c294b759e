"""A hub's movements as they are read: append-only, listed with the lot's stock after each.
They are recorded by app/hubs/stock.py."""

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from app.hubs.access import load_hub
from app.hubs.repository import MOVEMENTS_ORDER, movements_with_stock_after
from app.hubs.schemas import Movement
from app.kit.pagination import PageParams, keyset_page
from app.kit.principal import Principal
from app.kit.problems import NotFound
from app.models import HubLot, HubMovement


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
