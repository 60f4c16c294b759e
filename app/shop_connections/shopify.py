"""Shopify's payloads, read: an order (`orders/create`, `orders/cancelled`) shipped by the
boucle rate (a shipping line whose `code` is one of the `service_code`s the rate callback
answered), its shipping address with its latitude and longitude when Shopify has them; and the
CarrierService's rate request."""

from datetime import datetime
from typing import Any

from app.models import ShopConnection
from app.shop_connections.schemas import OrderAsked

# A rate's service code: this prefix and the slot's start, so that the order names its slot.
SERVICE_CODE_PREFIX = "boucle-"


def service_code(slot_starts_at: datetime) -> str:
    return SERVICE_CODE_PREFIX + slot_starts_at.isoformat()


def boucle_line(order: dict[str, Any]) -> dict[str, Any] | None:
    lines = order.get("shipping_lines")
    for line in lines if isinstance(lines, list) else []:
        if isinstance(line, dict) and str(line.get("code") or "").startswith(SERVICE_CODE_PREFIX):
            return line
    return None


def _slot(line: dict[str, Any]) -> datetime | None:
    try:
        chosen = datetime.fromisoformat(str(line["code"])[len(SERVICE_CODE_PREFIX) :])
    except ValueError:
        return None
    return chosen if chosen.tzinfo else None


def address_of(address: Any) -> str | None:
    if not isinstance(address, dict):
        return None
    street = " ".join(str(address.get(k) or "").strip() for k in ("address1", "address2")).strip()
    town = " ".join(
        str(address.get(k) or "").strip() for k in ("zip", "postal_code", "city")
    ).strip()
    return ", ".join(part for part in (street, town) if part) or None


def point_of(address: Any) -> list[float] | None:
    if not isinstance(address, dict):
        return None
    latitude, longitude = address.get("latitude"), address.get("longitude")
    try:
        lon, lat = float(longitude), float(latitude)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return [lon, lat] if -180 <= lon <= 180 and -90 <= lat <= 90 else None


def asked_of(connection: ShopConnection, order: dict[str, Any]) -> OrderAsked:
    line = boucle_line(order) or {}
    grams = order.get("total_weight")
    weight = grams / 1000 if isinstance(grams, int | float) and 0 < grams <= 1_000_000 else None
    return OrderAsked(
        dropoff_address=address_of(order.get("shipping_address")),
        dropoff=point_of(order.get("shipping_address")),
        weight_kg=weight or connection.default_weight_kg,
        volume_m3=connection.default_volume_m3,
        slot_starts_at=_slot(line) if line else None,
    )


def reference_of(order: dict[str, Any]) -> str:
    return str(order.get("name") or order.get("order_number") or order.get("id"))[:200]


def rate_weight_kg(connection: ShopConnection, rate: dict[str, Any]) -> float:
    """The parcels' weight from the rate request's items (grams each, times their quantity)."""
    items = rate.get("items")
    grams = 0.0
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict) and isinstance(item.get("grams"), int | float):
            quantity = item.get("quantity")
            grams += item["grams"] * (quantity if isinstance(quantity, int) else 1)
    return grams / 1000 if 0 < grams <= 1_000_000 else connection.default_weight_kg
