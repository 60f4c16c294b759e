"""A shop's web shop connections: made (the secret answered once), listed, read, deleted; the
orders they sent, listed, and a held one booked again once the shop fixed it."""

import secrets
import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.pagination import PageParams
from app.kit.principal import Principal
from app.kit.problems import Conflict, ValidationFailed
from app.models import ShopConnection, ShopOrder, Site
from app.settings import Settings
from app.shop_connections import repository
from app.shop_connections.booking import book_order
from app.shop_connections.schemas import (
    OrderAsked,
    OrderFix,
    OrderStatus,
    Platform,
    ShopConnectionCreate,
)

SHOP = "shop"


async def connect(
    session: AsyncSession, principal: Principal, data: ShopConnectionCreate
) -> ShopConnection:
    principal.require_role(SHOP)
    if data.platform == Platform.prestashop:
        # PrestaShop sends no webhooks: its orders must be polled, which is not built yet.
        raise ValidationFailed.field(
            "platform",
            "supported_platform",
            "PrestaShop is not connected yet (its orders must be polled): book its orders "
            "with POST /v1/deliveries meanwhile.",
        )
    site = await session.get(Site, data.pickup_site_id)
    if site is None or site.organization_id != principal.organization_id:
        raise ValidationFailed.field(
            "pickup_site_id", "own_site", f"No site {data.pickup_site_id} in your organization."
        )
    domain = data.shop_domain.lower() if data.shop_domain else None
    if domain and await repository.shopify_connection(session, domain):
        raise ValidationFailed.field(
            "shop_domain", "unique_domain", f"{domain} is connected already."
        )
    connection = ShopConnection(
        id=uuid.uuid4(),
        organization_id=principal.organization_id,
        platform=data.platform.value,
        pickup_site_id=site.id,
        shop_domain=domain,
        secret=data.secret or secrets.token_urlsafe(32),
        default_weight_kg=data.default_weight_kg,
        default_volume_m3=data.default_volume_m3,
    )
    session.add(connection)
    await session.flush()
    return connection


async def list_connections(
    session: AsyncSession, principal: Principal, page: PageParams
) -> list[ShopConnection]:
    return await repository.CONNECTIONS.page(session, principal, page)


async def get_connection(
    session: AsyncSession, principal: Principal, connection_id: uuid.UUID
) -> ShopConnection:
    return await repository.CONNECTIONS.readable(session, principal, connection_id)


async def disconnect(session: AsyncSession, principal: Principal, connection_id: uuid.UUID) -> None:
    """Deletes the connection and its orders' rows; the deliveries booked stay booked."""
    connection = await repository.CONNECTIONS.writable(session, principal, connection_id)
    await session.delete(connection)
    await session.flush()


async def list_orders(
    session: AsyncSession, principal: Principal, connection_id: uuid.UUID, page: PageParams
) -> list[ShopOrder]:
    await get_connection(session, principal, connection_id)
    return await repository.ORDERS.page(
        session, principal, page, ShopOrder.connection_id == connection_id
    )


async def retry(
    session: AsyncSession,
    settings: Settings,
    principal: Principal,
    connection_id: uuid.UUID,
    order_id: uuid.UUID,
    fix: OrderFix,
) -> ShopOrder:
    """Books a held order again, with what the shop corrected; answers it booked, or held
    again with the new reason."""
    connection = await get_connection(session, principal, connection_id)
    order = await repository.ORDERS.writable(session, principal, order_id)
    if order.connection_id != connection.id:
        raise ValidationFailed.field(
            "order_id", "order_of_the_connection", "This order came through another connection."
        )
    if order.status != OrderStatus.needs_attention:
        raise Conflict(
            f"This order is {order.status}: only an order that needs attention is booked again.",
            rule="not_held",
            order_status=order.status,
        )
    asked = OrderAsked.model_validate(order.asked)
    if fix.dropoff is not None:
        if fix.dropoff.crs != "EPSG:4326":
            raise ValidationFailed.field(
                "dropoff.crs", "wgs84", "Give the door in WGS84 [longitude, latitude]."
            )
        asked.dropoff = list(fix.dropoff.coordinates)
    if fix.dropoff_address is not None:
        asked.dropoff_address = fix.dropoff_address
        asked.dropoff = asked.dropoff if fix.dropoff is not None else None
    if fix.weight_kg is not None:
        asked.weight_kg = fix.weight_kg
    order.asked = asked.model_dump(mode="json")
    await book_order(session, settings, connection, order)
    return order
