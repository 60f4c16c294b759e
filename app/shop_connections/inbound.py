"""What the platforms send: WooCommerce's and Shopify's order webhooks and Shopify's rate
requests. Each is checked against the connection's secret on the raw body before anything in
it is read; a delivery the platform sends again is taken once, and an order has one row
whatever is sent twice, so that nothing is booked twice."""

import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.deliveries.quoting import Placed, delivery_options
from app.deliveries.schemas import DeliveryAsk, Parcels
from app.geocoding.service import geocode
from app.jobs.queue import EVENTS_QUEUE, JobKind, defer_in_transaction
from app.kit.geo import PointIn, locate
from app.kit.local_time import BRUSSELS
from app.kit.problems import BadRequest, Problem, Unauthorized
from app.models import ShopConnection, ShopOrder, Site
from app.settings import Settings
from app.shop_connections import repository, shopify, woocommerce
from app.shop_connections.booking import book_order, cancel_order
from app.shop_connections.signatures import is_signed

BOOK_ORDER = JobKind("shop_connections:book_order", EVENTS_QUEUE)
# WooCommerce's ping when a webhook is saved: a form body naming the webhook, unsigned.
_WOOCOMMERCE_PING = re.compile(rb"webhook_id=\d{1,20}")
# How far ahead the rates at checkout look: the next three days' slots.
RATES_HORIZON = timedelta(days=3)


def _refused() -> Unauthorized:
    return Unauthorized("The signature does not match this connection's secret.")


def _order(body: bytes) -> dict[str, Any]:
    try:
        order = json.loads(body)
    except ValueError:
        order = None
    if not isinstance(order, dict) or order.get("id") is None:
        raise BadRequest("The body is not an order (a JSON object with its id).")
    return order


async def woocommerce_webhook(
    session: AsyncSession,
    settings: Settings,
    connection_id: uuid.UUID,
    headers: dict[str, str],
    body: bytes,
) -> None:
    connection = await session.get(ShopConnection, connection_id)
    signature = headers.get("x-wc-webhook-signature")
    if signature is None and _WOOCOMMERCE_PING.fullmatch(body.strip()):
        return
    if connection is None or connection.platform != "woocommerce":
        raise _refused()
    if not is_signed(connection.secret, body, signature):
        raise _refused()
    if headers.get("x-wc-webhook-topic") not in ("order.created", "order.updated"):
        return
    if not await repository.first_receipt(
        session, connection.id, headers.get("x-wc-webhook-delivery-id")
    ):
        return
    order = _order(body)
    platform_id, status = str(order["id"]), order.get("status")
    if status in woocommerce.TO_CANCEL:
        known = await repository.known_order(session, connection, platform_id)
        if known is not None:
            await cancel_order(session, connection, known)
        return
    if status not in woocommerce.TO_DELIVER or not woocommerce.ships_by_boucle(order):
        return
    asked = woocommerce.asked_of(connection, order)
    row, made = await repository.order_row(
        session, connection, platform_id, woocommerce.reference_of(order), asked
    )
    if not made and row.status == "needs_attention":
        # The shop fixed the order in WooCommerce (an address): it is booked as it is now.
        row.asked = asked.model_dump(mode="json")
    await book_order(session, settings, connection, row)


async def _shopify_connection(
    session: AsyncSession, headers: dict[str, str], body: bytes
) -> ShopConnection:
    connection = await repository.shopify_connection(session, headers.get("x-shopify-shop-domain"))
    if connection is None or not is_signed(
        connection.secret, body, headers.get("x-shopify-hmac-sha256")
    ):
        raise _refused()
    return connection


async def shopify_webhook(session: AsyncSession, headers: dict[str, str], body: bytes) -> None:
    """Takes the order and queues its booking (Shopify waits 5 s at most for the answer)."""
    connection = await _shopify_connection(session, headers, body)
    if not await repository.first_receipt(
        session, connection.id, headers.get("x-shopify-webhook-id")
    ):
        return
    topic = headers.get("x-shopify-topic")
    if topic not in ("orders/create", "orders/cancelled"):
        return
    order = _order(body)
    platform_id = str(order["id"])
    if topic == "orders/cancelled":
        known = await repository.known_order(session, connection, platform_id)
        if known is not None:
            await cancel_order(session, connection, known)
        return
    if shopify.boucle_line(order) is None:
        return
    row, made = await repository.order_row(
        session,
        connection,
        platform_id,
        shopify.reference_of(order),
        shopify.asked_of(connection, order),
    )
    if made:
        await defer_in_transaction(session, BOOK_ORDER, {"order_id": str(row.id)})


async def book_queued_order(session: AsyncSession, settings: Settings, order_id: str) -> None:
    """The job of a Shopify order: books it unless it was cancelled meanwhile."""
    row = await session.get(ShopOrder, uuid.UUID(order_id), with_for_update=True)
    if row is None:
        return
    connection = await session.get(ShopConnection, row.connection_id)
    assert connection is not None, "an order goes with its connection (ON DELETE CASCADE)"
    await book_order(session, settings, connection, row)


async def shopify_rates(
    session: AsyncSession, settings: Settings, headers: dict[str, str], body: bytes
) -> list[dict[str, str]]:
    """Shopify's rates at checkout: each slot of the next days that can take the cart to the
    destination, priced as a quote is (cents, VAT included, as a string)."""
    connection = await _shopify_connection(session, headers, body)
    try:
        request = json.loads(body)
    except ValueError:
        request = None
    rate = request.get("rate") if isinstance(request, dict) else None
    if not isinstance(rate, dict):
        raise BadRequest("The body is not a rate request (a JSON object with `rate`).")
    now = datetime.now(UTC)
    site = await session.get(Site, connection.pickup_site_id)
    assert site is not None, "a connection goes with its pickup site (ON DELETE CASCADE)"
    try:
        door = await _door(session, rate.get("destination"))
        if door is None:
            return []
        ask = DeliveryAsk(
            pickup_site_id=site.id,
            dropoff=door,
            parcels=Parcels(
                count=1,
                weight_kg=shopify.rate_weight_kg(connection, rate),
                volume_m3=connection.default_volume_m3,
            ),
            earliest=now,
            latest=now + RATES_HORIZON,
        )
        dropoff = await locate(session, door, settings.service_area_buffer_km, "destination")
        options = await delivery_options(session, ask, Placed(site.location, dropoff), now)
    except Problem:
        return []
    # The cheapest option of each slot: a rate's code names its slot, whichever service rides it.
    slots = {o.slot_starts_at: o for o in reversed(options)}
    return [
        {
            "service_name": f"Boucle cargo bike, {_local(o.slot_starts_at)}",
            "service_code": shopify.service_code(o.slot_starts_at),
            "total_price": str(round(o.price_incl_vat * 100)),
            "description": f"Delivered between {_local(o.deliver_from)} and "
            f"{_local(o.deliver_until)[-5:]}, {o.co2e_g:g} g CO2e",
            "currency": o.currency,
            "min_delivery_date": o.deliver_from.isoformat(),
            "max_delivery_date": o.deliver_until.isoformat(),
        }
        for o in sorted(slots.values(), key=lambda o: o.slot_starts_at)
    ]


def _local(moment: datetime) -> str:
    return moment.astimezone(BRUSSELS).strftime("%a %d %b %H:%M")


async def _door(session: AsyncSession, destination: Any) -> PointIn | None:
    """The destination's point: Shopify's latitude and longitude when given, else the
    geocoder's point of its address (None when it finds no street)."""
    point = shopify.point_of(destination)
    if point is not None:
        return PointIn(type="Point", coordinates=(point[0], point[1]))
    address = shopify.address_of(destination)
    if address is None or len(address) < 3:
        return None
    found = await geocode(session, address[:500], field="destination", location="body")
    if found.match is None or found.needs_attention:
        return None
    return PointIn(type="Point", coordinates=found.match.point.coordinates)
