"""WooCommerce's order webhooks, read: an order shipped by the shop's boucle method (a
shipping line of `method_id` `boucle`), its shipping address, and the slot the customer chose
(the order meta `_boucle_slot`: the slot's start, ISO 8601)."""

from datetime import datetime
from typing import Any

from app.kit.local_time import BRUSSELS
from app.models import ShopConnection
from app.shop_connections.schemas import OrderAsked

BOUCLE_METHOD = "boucle"
SLOT_META_KEY = "_boucle_slot"
# The statuses of an order to deliver (paid, or to be paid on delivery); pending orders wait
# for their payment, and come again as order.updated.
TO_DELIVER = frozenset({"processing", "on-hold", "completed"})
TO_CANCEL = frozenset({"cancelled", "refunded", "failed"})


def ships_by_boucle(order: dict[str, Any]) -> bool:
    lines = order.get("shipping_lines")
    return isinstance(lines, list) and any(
        isinstance(line, dict) and line.get("method_id") == BOUCLE_METHOD for line in lines
    )


def address_of(shipping: Any) -> str | None:
    if not isinstance(shipping, dict):
        return None
    street = " ".join(
        str(shipping.get(k) or "").strip() for k in ("address_1", "address_2")
    ).strip()
    town = " ".join(str(shipping.get(k) or "").strip() for k in ("postcode", "city")).strip()
    return ", ".join(part for part in (street, town) if part) or None


def slot_of(order: dict[str, Any]) -> datetime | None:
    meta = order.get("meta_data")
    for entry in meta if isinstance(meta, list) else []:
        if isinstance(entry, dict) and entry.get("key") == SLOT_META_KEY:
            try:
                chosen = datetime.fromisoformat(str(entry.get("value")))
            except ValueError:
                return None
            return chosen if chosen.tzinfo else chosen.replace(tzinfo=BRUSSELS)
    return None


def asked_of(connection: ShopConnection, order: dict[str, Any]) -> OrderAsked:
    return OrderAsked(
        dropoff_address=address_of(order.get("shipping")),
        weight_kg=connection.default_weight_kg,
        volume_m3=connection.default_volume_m3,
        slot_starts_at=slot_of(order),
    )


def reference_of(order: dict[str, Any]) -> str:
    return f"#{str(order.get('number') or order.get('id'))[:190]}"
