"""A connection's and an order's answers."""

from fastapi import Request

from app.models import ShopConnection, ShopOrder
from app.shop_connections import schemas


def connection_view(request: Request, row: ShopConnection) -> schemas.ShopConnection:
    base = str(request.base_url).rstrip("/")
    shopify = row.platform == schemas.Platform.shopify
    return schemas.ShopConnection(
        id=row.id,
        platform=schemas.Platform(row.platform),
        pickup_site_id=row.pickup_site_id,
        shop_domain=row.shop_domain,
        default_weight_kg=row.default_weight_kg,
        default_volume_m3=row.default_volume_m3,
        webhook_url=f"{base}/v1/shopify/orders"
        if shopify
        else f"{base}/v1/shop-connections/{row.id}/woocommerce",
        rates_url=f"{base}/v1/shopify/rates" if shopify else None,
        created_at=row.created_at,
    )


def created_view(request: Request, row: ShopConnection) -> schemas.ShopConnectionCreated:
    return schemas.ShopConnectionCreated(
        **connection_view(request, row).model_dump(), secret=row.secret
    )


def order_view(row: ShopOrder) -> schemas.ShopOrder:
    return schemas.ShopOrder(
        id=row.id,
        connection_id=row.connection_id,
        platform_order_id=row.platform_order_id,
        reference=row.reference,
        status=schemas.OrderStatus(row.status),
        reason=row.reason,
        asked=schemas.OrderAsked.model_validate(row.asked),
        delivery_id=row.delivery_id,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )
