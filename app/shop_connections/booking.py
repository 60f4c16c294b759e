"""An order's delivery: booked into the slot the customer chose, or the first that fits, by
the same quote and booking as a shop's own (`app.deliveries.service`); when it cannot be, the
order is held as `needs_attention` with the reason and the shop hears of it, never dropped. An
order cancelled on its platform cancels its delivery."""

from datetime import UTC, datetime, timedelta

from pydantic import ValidationError as PydanticValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from app.deliveries import service as deliveries
from app.deliveries.schemas import DeliveryAsk, DeliveryCreate, Parcels
from app.kit.geo import PointIn
from app.kit.principal import Principal
from app.kit.problems import Conflict, Problem, ValidationFailed
from app.models import ShopConnection, ShopOrder
from app.settings import Settings
from app.shop_connections.schemas import OrderAsked, OrderStatus
from app.webhooks.outbox import emit
from app.webhooks.schemas import EventType

# How far ahead an order without a chosen slot is booked: the first slot of the next week.
BOOKING_HORIZON = timedelta(days=7)
# The window asked around a chosen slot: the options then start at it.
CHOSEN_SLOT_SPAN = timedelta(hours=23)


def shop_of(connection: ShopConnection) -> Principal:
    """The shop the connection books for, as if it called the API itself."""
    return Principal(connection.organization_id, ("shop",))


def ask_of(connection: ShopConnection, asked: OrderAsked, now: datetime) -> DeliveryAsk:
    earliest = asked.slot_starts_at or now
    latest = earliest + (CHOSEN_SLOT_SPAN if asked.slot_starts_at else BOOKING_HORIZON)
    address = (asked.dropoff_address or "").strip()[:500] or None
    return DeliveryAsk(
        pickup_site_id=connection.pickup_site_id,
        dropoff=None
        if asked.dropoff is None
        else PointIn(type="Point", coordinates=(asked.dropoff[0], asked.dropoff[1])),
        dropoff_address=address,
        parcels=Parcels(count=1, weight_kg=asked.weight_kg, volume_m3=asked.volume_m3),
        earliest=earliest,
        latest=latest,
    )


def _reason(exc: Exception) -> str:
    if isinstance(exc, PydanticValidationError):
        return "The order lacks what a delivery needs: " + "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'order'}: {e['msg']}" for e in exc.errors()
        )
    assert isinstance(exc, Problem)
    return exc.detail


async def book_order(
    session: AsyncSession, settings: Settings, connection: ShopConnection, order: ShopOrder
) -> None:
    """Books the order's delivery, or holds the order with the reason (and tells the shop)."""
    if order.status not in (OrderStatus.received, OrderStatus.needs_attention):
        return
    asked = OrderAsked.model_validate(order.asked)
    shop = shop_of(connection)
    try:
        # A savepoint: whatever a failed booking wrote goes, the held order stays.
        async with session.begin_nested():
            ask = ask_of(connection, asked, datetime.now(UTC))
            booking = DeliveryCreate(ask=ask, reference=order.reference)
            if asked.slot_starts_at is not None:
                booking = await _chosen_slot(session, settings, shop, ask, asked, order)
            delivery = await deliveries.book(session, settings, shop, booking)
    except (Problem, PydanticValidationError) as exc:
        await hold(session, order, _reason(exc))
        return
    order.status, order.reason, order.delivery_id = OrderStatus.booked, None, delivery.id
    await session.flush()


async def _chosen_slot(
    session: AsyncSession,
    settings: Settings,
    shop: Principal,
    ask: DeliveryAsk,
    asked: OrderAsked,
    order: ShopOrder,
) -> DeliveryCreate:
    quote = await deliveries.quote(session, settings, shop, ask)
    for option in quote.options:
        if datetime.fromisoformat(option["slot_starts_at"]) == asked.slot_starts_at:
            return DeliveryCreate(
                quote_id=quote.id, option_id=option["id"], reference=order.reference
            )
    raise Conflict(
        f"The slot the customer chose ({asked.slot_starts_at}) can no longer take this "
        "delivery: book another one for them.",
        rule="slot_chosen_full",
    )


async def hold(session: AsyncSession, order: ShopOrder, reason: str) -> None:
    order.status, order.reason = OrderStatus.needs_attention, reason
    order.updated_at = datetime.now(UTC)
    await session.flush()
    await emit(
        session,
        {order.organization_id},
        EventType.shop_order_needs_attention.value,
        {
            "shop_order_id": str(order.id),
            "connection_id": str(order.connection_id),
            "platform_order_id": order.platform_order_id,
            "reference": order.reference,
            "reason": reason,
        },
        # Each time it fails anew is a fact of its own.
        fact=[order.id, order.updated_at.isoformat()],
    )


async def cancel_order(session: AsyncSession, connection: ShopConnection, order: ShopOrder) -> None:
    """The order cancelled on its platform: its delivery cancelled until the slot's cut-off;
    past it the order is held, for the shop to settle with the carrier."""
    if order.status == OrderStatus.cancelled:
        return
    if order.status == OrderStatus.booked and order.delivery_id is not None:
        try:
            async with session.begin_nested():
                await deliveries.cancel(session, shop_of(connection), order.delivery_id)
        except (Conflict, ValidationFailed) as exc:
            await hold(session, order, f"Cancelled on the web shop, but: {exc.detail}")
            return
    order.status, order.reason = OrderStatus.cancelled, None
    await session.flush()
