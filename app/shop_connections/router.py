import uuid
from typing import Any

from fastapi import APIRouter, Request, Response, Security, status
from fastapi.security import APIKeyHeader

from app.auth import CurrentPrincipal
from app.gateway.idempotency import IdempotencyKey
from app.kit.owned import answer
from app.kit.pagination import Page, creation_key, page_links
from app.kit.problem_docs import AUTHENTICATED, WRITE, problems
from app.kit.request_session import Session
from app.settings import AppSettings
from app.shop_connections import inbound, service
from app.shop_connections.schemas import (
    OrderFix,
    ShopConnection,
    ShopConnectionCreate,
    ShopConnectionCreated,
    ShopConnectionPage,
    ShopOrder,
    ShopOrderPage,
)
from app.shop_connections.views import connection_view, created_view, order_view
from app.shop_connections.woocommerce import BOUCLE_METHOD, SLOT_META_KEY

router = APIRouter(tags=["shop connections"])

_NO_CONNECTION = "No connection of yours has this id (another organization's answers so too)"
_RAW_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"type": "object"}}},
    }
}


# How the platforms authenticate, documented as the operations' security: their signature
# headers, checked on the raw body in app.shop_connections.inbound (not here: a header alone
# proves nothing).
WOOCOMMERCE_SIGNATURE = Security(
    APIKeyHeader(
        name="X-WC-Webhook-Signature",
        scheme_name="WooCommerceSignature",
        description="Base64 HMAC-SHA256 of the raw body with the connection's secret.",
        auto_error=False,
    )
)
SHOPIFY_SIGNATURE = Security(
    APIKeyHeader(
        name="X-Shopify-Hmac-Sha256",
        scheme_name="ShopifySignature",
        description="Base64 HMAC-SHA256 of the raw body with the secret of the connection "
        "of `X-Shopify-Shop-Domain`.",
        auto_error=False,
    )
)


def _headers(request: Request) -> dict[str, str]:
    return {k.lower(): v for k, v in request.headers.items()}


@router.post(
    "/v1/shop-connections",
    status_code=status.HTTP_201_CREATED,
    dependencies=[IdempotencyKey],
    summary="Connect a web shop (role shop)",
    description="Your WooCommerce, Shopify or PrestaShop store, whose orders shipped by boucle "
    "are booked into the shared rounds from `pickup_site_id`. 201 with `webhook_url` (and for "
    "Shopify `rates_url`) to paste in the platform, and the `secret` it signs with, in this "
    "answer only (`Cache-Control: no-store`).",
    responses=problems(*AUTHENTICATED, *WRITE, 403),
)
async def connect(
    data: ShopConnectionCreate,
    principal: CurrentPrincipal,
    session: Session,
    request: Request,
    response: Response,
) -> ShopConnectionCreated:
    row = await service.connect(session, principal, data)
    response.headers["Location"] = f"/v1/shop-connections/{row.id}"
    response.headers["Cache-Control"] = "no-store"
    return answer(response, row, lambda r: created_view(request, r))


@router.get(
    "/v1/shop-connections",
    summary="Your web shops' connections, oldest first",
    description="A page at a time: follow the `next` link while there is one. Never the secret.",
    responses=problems(*AUTHENTICATED, 422),
)
async def list_connections(
    request: Request, principal: CurrentPrincipal, session: Session, page: Page
) -> ShopConnectionPage:
    rows = await service.list_connections(session, principal, page)
    return ShopConnectionPage(
        items=[connection_view(request, r) for r in rows],
        links=page_links(request, page, rows, creation_key),
    )


@router.get(
    "/v1/shop-connections/{connection_id}",
    summary="One of your web shops' connections",
    description="Another organization's connection answers 404, as a missing one does.",
    responses=problems(*AUTHENTICATED, 404, 422, says={404: _NO_CONNECTION}),
)
async def read_connection(
    connection_id: uuid.UUID,
    principal: CurrentPrincipal,
    session: Session,
    request: Request,
    response: Response,
) -> ShopConnection:
    row = await service.get_connection(session, principal, connection_id)
    return answer(response, row, lambda r: connection_view(request, r))


@router.delete(
    "/v1/shop-connections/{connection_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Disconnect a web shop",
    description="204: its webhooks are refused from now on (401) and its orders' rows go; the "
    "deliveries booked stay booked.",
    responses=problems(*AUTHENTICATED, 404, 422, says={404: _NO_CONNECTION}),
)
async def disconnect(
    connection_id: uuid.UUID, principal: CurrentPrincipal, session: Session
) -> None:
    await service.disconnect(session, principal, connection_id)


@router.get(
    "/v1/shop-connections/{connection_id}/orders",
    summary="The orders a web shop sent, oldest first",
    description="Each order with its status: `booked` (with its delivery), `received` (its "
    "booking is queued), `needs_attention` (with the `reason`: fix it and retry) or "
    "`cancelled`. A page at a time.",
    responses=problems(*AUTHENTICATED, 404, 422, says={404: _NO_CONNECTION}),
)
async def list_orders(
    connection_id: uuid.UUID,
    request: Request,
    principal: CurrentPrincipal,
    session: Session,
    page: Page,
) -> ShopOrderPage:
    rows = await service.list_orders(session, principal, connection_id, page)
    return ShopOrderPage(
        items=[order_view(r) for r in rows], links=page_links(request, page, rows, creation_key)
    )


@router.post(
    "/v1/shop-connections/{connection_id}/orders/{order_id}/retry",
    dependencies=[IdempotencyKey],
    summary="Book a held order again",
    description="An order that `needs_attention`, booked again with what you correct (the "
    "address, the door, the weight; nothing: as it is). 200 with the order, `booked` or held "
    "again with the new reason. An order in another state: 409 `not_held`.",
    responses=problems(*AUTHENTICATED, *WRITE, 404, says={404: "No such order of yours"}),
)
async def retry_order(
    connection_id: uuid.UUID,
    order_id: uuid.UUID,
    fix: OrderFix,
    principal: CurrentPrincipal,
    session: Session,
    settings: AppSettings,
) -> ShopOrder:
    return order_view(
        await service.retry(session, settings, principal, connection_id, order_id, fix)
    )


@router.post(
    "/v1/shop-connections/{connection_id}/woocommerce",
    summary="WooCommerce's order webhook (called by WooCommerce)",
    description="Not called with an API key: authenticated by `X-WC-Webhook-Signature`, the "
    "base64 HMAC-SHA256 of the raw body with the connection's secret, checked before anything "
    "is read (401 otherwise, and nothing written). The unsigned ping WooCommerce sends when "
    "the webhook is saved (`webhook_id=...`) answers 200. Topics `order.created` and "
    f"`order.updated`: an order shipped by the method `{BOUCLE_METHOD}` and processing (or "
    "on hold, or completed) is booked into the slot whose start is in its meta "
    f"`{SLOT_META_KEY}` (ISO 8601), else the first that fits; cancelled, refunded or failed, "
    "its delivery is cancelled. A delivery sent again (`X-WC-Webhook-Delivery-ID`) is taken "
    "once; an order is booked once. One that cannot be booked is held: see its orders.",
    responses=problems(400, 401, 413, 422),
    openapi_extra=_RAW_BODY,
    dependencies=[WOOCOMMERCE_SIGNATURE],
)
async def woocommerce_webhook(
    connection_id: uuid.UUID, request: Request, session: Session, settings: AppSettings
) -> dict[str, str]:
    body = await request.body()
    await inbound.woocommerce_webhook(session, settings, connection_id, _headers(request), body)
    return {"status": "received"}


@router.post(
    "/v1/shopify/orders",
    summary="Shopify's order webhooks (called by Shopify)",
    description="Not called with an API key: the connection is the one of "
    "`X-Shopify-Shop-Domain`, and `X-Shopify-Hmac-Sha256` (the base64 HMAC-SHA256 of the raw "
    "body with its secret) is checked before anything is read (401 otherwise, and nothing "
    "written). `orders/create` of an order shipped by a boucle rate is taken and booked by a "
    "job, so that Shopify has its answer at once; `orders/cancelled` cancels its delivery. "
    "A delivery sent again (`X-Shopify-Webhook-Id`) is taken once.",
    responses=problems(400, 401, 413, 422),
    openapi_extra=_RAW_BODY,
    dependencies=[SHOPIFY_SIGNATURE],
)
async def shopify_orders(request: Request, session: Session) -> dict[str, str]:
    await inbound.shopify_webhook(session, _headers(request), await request.body())
    return {"status": "received"}


@router.post(
    "/v1/shopify/rates",
    summary="Shopify's CarrierService rate callback (called by Shopify)",
    description="Not called with an API key: authenticated as the order webhooks are "
    "(`X-Shopify-Shop-Domain`, `X-Shopify-Hmac-Sha256`). Answers the slots of the next three "
    "days that can take the cart to the destination (its latitude and longitude, else its "
    "address), each a rate in cents (VAT included, as a string) whose `service_code` names "
    "the slot; none: `rates` is empty.",
    responses=problems(400, 401, 413, 422),
    openapi_extra=_RAW_BODY,
    dependencies=[SHOPIFY_SIGNATURE],
)
async def shopify_rates(
    request: Request, session: Session, settings: AppSettings
) -> dict[str, list[dict[str, str]]]:
    body = await request.body()
    return {"rates": await inbound.shopify_rates(session, settings, _headers(request), body)}
