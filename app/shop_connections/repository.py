"""The queries of web shop connections: the connections and their orders as their shop owns
them, a Shopify shop's connection by its domain, an order's one row, a webhook delivery taken
once."""

import uuid
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.owned import OwnedRows
from app.models import ShopConnection, ShopOrder, ShopWebhookReceipt
from app.shop_connections.schemas import OrderAsked, OrderStatus

CONNECTIONS = OwnedRows(ShopConnection, "shop connection")
ORDERS = OwnedRows(ShopOrder, "order")


async def shopify_connection(session: AsyncSession, domain: str | None) -> ShopConnection | None:
    if not domain:
        return None
    found: ShopConnection | None = await session.scalar(
        select(ShopConnection).where(
            ShopConnection.shop_domain == domain.strip().lower(),
            ShopConnection.platform == "shopify",
        )
    )
    return found


async def first_receipt(
    session: AsyncSession, connection_id: uuid.UUID, delivery_id: str | None
) -> bool:
    """Whether this is the first time the platform's webhook delivery is taken (a delivery
    without an id is taken each time: the order's own row keeps it from being booked twice)."""
    if not delivery_id:
        return True
    taken = await session.scalar(
        insert(ShopWebhookReceipt)
        .values(
            connection_id=connection_id,
            delivery_id=delivery_id[:100],
            received_at=datetime.now(UTC),
        )
        .on_conflict_do_nothing()
        .returning(ShopWebhookReceipt.delivery_id)
    )
    return taken is not None


async def order_row(
    session: AsyncSession,
    connection: ShopConnection,
    platform_order_id: str,
    reference: str | None,
    asked: OrderAsked,
) -> tuple[ShopOrder, bool]:
    """The order's row, locked, made now unless it was already (then the bool is False): a
    platform that sends an order twice, or twice at once, gets one row."""
    now = datetime.now(UTC)
    made = await session.scalar(
        insert(ShopOrder)
        .values(
            id=uuid.uuid4(),
            organization_id=connection.organization_id,
            connection_id=connection.id,
            platform_order_id=platform_order_id[:64],
            reference=reference,
            status=OrderStatus.received.value,
            asked=asked.model_dump(mode="json"),
            created_at=now,
            updated_at=now,
            version=1,
        )
        .on_conflict_do_nothing(index_elements=["connection_id", "platform_order_id"])
        .returning(ShopOrder.id)
    )
    row = await session.scalar(
        select(ShopOrder)
        .where(
            ShopOrder.connection_id == connection.id,
            ShopOrder.platform_order_id == platform_order_id[:64],
        )
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert row is not None, "made or already there"
    return row, made is not None


async def known_order(
    session: AsyncSession, connection: ShopConnection, platform_order_id: str
) -> ShopOrder | None:
    found: ShopOrder | None = await session.scalar(
        select(ShopOrder)
        .where(
            ShopOrder.connection_id == connection.id,
            ShopOrder.platform_order_id == platform_order_id[:64],
        )
        .with_for_update()
    )
    return found
