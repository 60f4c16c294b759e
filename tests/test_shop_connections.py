"""Web shops send their orders themselves (COMM 12): WooCommerce's and Shopify's webhooks, as
each platform documents and signs them, played through the app. An order shipped by boucle is
booked into a shared round (the slot the customer chose, else the first that fits), once
however often it is sent; a forged one writes nothing; a cancelled one cancels its delivery;
one that cannot be booked is held, listed, announced to the shop and booked once fixed.
Shopify's checkout asks for live rates, in cents."""

import base64
import hashlib
import hmac
import json
import uuid
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

import httpx

from app.kit.local_time import BRUSSELS
from tests.conftest import Org, OrgFactory, Receiver, WorkerRun, assert_problem, point, subscribe

# Around Place Flagey, away from the other tests' rounds.
ZONE = {
    "type": "Polygon",
    "coordinates": [
        [[4.366, 50.822], [4.384, 50.822], [4.384, 50.838], [4.366, 50.838], [4.366, 50.822]]
    ],
}
HUB = [4.3720, 50.8270]
SHOP = [4.3680, 50.8260]
# Known to the 2013 extract's addresses (tests/test_geocoding.py).
FOUND_ADDRESS = {"address_1": "Chaussée d'Ixelles 280", "postcode": "1050", "city": "Ixelles"}
CHAUSSEE_D_IXELLES_280 = [4.3703088, 50.8292779]
UNKNOWN_ADDRESS = {"address_1": "Qzxwv 12", "postcode": "1050", "city": "Ixelles"}


@dataclass
class Shop:
    org: Org
    site_id: str


def tomorrow_at(hour: int) -> datetime:
    return datetime.combine(datetime.now(BRUSSELS).date() + timedelta(days=1), time(hour), BRUSSELS)


def signed(secret: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


async def created(client: httpx.AsyncClient, org: Org, path: str, body: Any) -> dict[str, Any]:
    response = await client.post(path, json=body, headers=org.headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def a_shop_in_a_round(client: httpx.AsyncClient, make_org: OrgFactory) -> Shop:
    """A carrier's rounds around Flagey every day, and a shop with its site there."""
    carrier, shop = await make_org("carrier"), await make_org("shop")
    hub = await created(
        client, carrier, "/v1/sites", {"name": "Hub", "kind": "hub", "location": point(HUB)}
    )
    bike = await created(
        client,
        carrier,
        "/v1/vehicles",
        {"name": "Bike", "type": "cargo_bike", "capacity_kg": 80, "start": point(HUB)},
    )
    await created(
        client,
        carrier,
        "/v1/delivery-services",
        {
            "name": "Flagey rounds",
            "hub_site_id": hub["id"],
            "zone": ZONE,
            "weekdays": [1, 2, 3, 4, 5, 6, 7],
            "slots": [
                {"start": "09:00", "end": "12:00", "cutoff_before": "PT1H"},
                {"start": "14:00", "end": "17:00", "cutoff_before": "PT1H"},
            ],
            "vehicle_ids": [bike["id"]],
            "prices": {"per_delivery_eur": 6.5, "per_kg_eur": 0.2, "included_kg": 5},
            "max_parcel_kg": 50,
            "max_parcel_m3": 0.5,
        },
    )
    site = await created(
        client, shop, "/v1/sites", {"name": "Shop", "kind": "shop", "location": point(SHOP)}
    )
    return Shop(shop, site["id"])


async def connected(
    client: httpx.AsyncClient, shop: Shop, platform: str, **fields: Any
) -> dict[str, Any]:
    response = await client.post(
        "/v1/shop-connections",
        json={"platform": platform, "pickup_site_id": shop.site_id, **fields},
        headers=shop.org.headers,
    )
    assert response.status_code == 201, response.text
    assert response.headers["cache-control"] == "no-store"
    return dict(response.json())


def woo_order(order_id: int, status: str = "processing", **fields: Any) -> dict[str, Any]:
    """An order as WooCommerce's order webhooks send it (the REST API's order, v3)."""
    return {
        "id": order_id,
        "number": str(order_id),
        "status": status,
        "currency": "EUR",
        "shipping": {"first_name": "Léa", "last_name": "Dupont", "country": "BE", **FOUND_ADDRESS},
        "shipping_lines": [
            {"id": 7, "method_title": "Vélo-cargo boucle", "method_id": "boucle", "total": "8.59"}
        ],
        "meta_data": [{"id": 91, "key": "_boucle_slot", "value": tomorrow_at(14).isoformat()}],
        "line_items": [{"id": 3, "name": "Bouquet", "quantity": 1}],
        **fields,
    }


async def send_woo(
    client: httpx.AsyncClient,
    connection: dict[str, Any],
    order: dict[str, Any],
    topic: str = "order.created",
    delivery_id: str | None = None,
    secret: str | None = None,
) -> httpx.Response:
    body = json.dumps(order).encode()
    return await client.post(
        connection["webhook_url"],
        content=body,
        headers={
            "Content-Type": "application/json",
            "X-WC-Webhook-Source": "https://fleurs.example/",
            "X-WC-Webhook-Topic": topic,
            "X-WC-Webhook-Resource": "order",
            "X-WC-Webhook-Event": topic.split(".")[1],
            "X-WC-Webhook-ID": "12",
            "X-WC-Webhook-Delivery-ID": delivery_id or uuid.uuid4().hex,
            "X-WC-Webhook-Signature": signed(secret or connection["secret"], body),
        },
    )


async def orders_of(
    client: httpx.AsyncClient, shop: Shop, connection: dict[str, Any]
) -> list[dict[str, Any]]:
    response = await client.get(
        f"/v1/shop-connections/{connection['id']}/orders", headers=shop.org.headers
    )
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


async def deliveries_of(client: httpx.AsyncClient, shop: Shop) -> list[dict[str, Any]]:
    response = await client.get("/v1/deliveries", headers=shop.org.headers)
    return list(response.json()["items"])


async def test_a_woocommerce_order_is_booked_once_into_its_slot_and_cancelled_with_it(
    client: httpx.AsyncClient, make_org: OrgFactory, geocoder_database: str
) -> None:
    shop = await a_shop_in_a_round(client, make_org)
    connection = await connected(client, shop, "woocommerce")
    assert connection["webhook_url"].endswith(
        f"/v1/shop-connections/{connection['id']}/woocommerce"
    )
    read = await client.get(f"/v1/shop-connections/{connection['id']}", headers=shop.org.headers)
    assert read.status_code == 200 and "secret" not in read.json()

    ping = await client.post(
        connection["webhook_url"],
        content=b"webhook_id=12",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert ping.status_code == 200 and await orders_of(client, shop, connection) == []

    forged = await send_woo(client, connection, woo_order(501), secret="not-the-secret-at-all")
    assert_problem(forged, 401)
    unsigned = await client.post(connection["webhook_url"], json=woo_order(501))
    assert_problem(unsigned, 401)
    assert await orders_of(client, shop, connection) == []
    assert await deliveries_of(client, shop) == []

    first = await send_woo(client, connection, woo_order(501), delivery_id="d-1")
    assert first.status_code == 200, first.text
    [order] = await orders_of(client, shop, connection)
    assert order["status"] == "booked" and order["reference"] == "#501", order
    [delivery] = await deliveries_of(client, shop)
    assert delivery["id"] == order["delivery_id"] and delivery["reference"] == "#501"
    # The slot the customer chose at checkout, to the door the geocoder found.
    assert datetime.fromisoformat(delivery["slot_starts_at"]) == tomorrow_at(14)
    assert delivery["dropoff"]["coordinates"] == CHAUSSEE_D_IXELLES_280

    # WooCommerce sends the delivery again, then an order.updated of the same order.
    again = await send_woo(client, connection, woo_order(501), delivery_id="d-1")
    updated = await send_woo(client, connection, woo_order(501), topic="order.updated")
    assert again.status_code == updated.status_code == 200
    assert [d["id"] for d in await deliveries_of(client, shop)] == [delivery["id"]]

    # Another shipping method: not ours.
    by_post = woo_order(502, shipping_lines=[{"id": 8, "method_id": "flat_rate"}])
    assert (await send_woo(client, connection, by_post)).status_code == 200
    assert len(await orders_of(client, shop, connection)) == 1

    refunded = await send_woo(
        client, connection, woo_order(501, status="refunded"), topic="order.updated"
    )
    assert refunded.status_code == 200
    [order] = await orders_of(client, shop, connection)
    assert order["status"] == "cancelled"
    [delivery] = await deliveries_of(client, shop)
    assert delivery["status"] == "cancelled"

    gone = await client.delete(f"/v1/shop-connections/{connection['id']}", headers=shop.org.headers)
    assert gone.status_code == 204
    assert_problem(await send_woo(client, connection, woo_order(503)), 401)


async def test_an_order_whose_address_is_not_found_is_held_announced_and_booked_once_fixed(
    client: httpx.AsyncClient,
    make_org: OrgFactory,
    geocoder_database: str,
    receiver: Receiver,
) -> None:
    shop = await a_shop_in_a_round(client, make_org)
    webhook_id = await subscribe(client, shop.org, receiver.url, ["shop_order.needs_attention"])
    connection = await connected(client, shop, "woocommerce", default_weight_kg=3)
    lost = woo_order(601, shipping={"country": "BE", **UNKNOWN_ADDRESS}, meta_data=[])
    assert (await send_woo(client, connection, lost)).status_code == 200

    [order] = await orders_of(client, shop, connection)
    assert order["status"] == "needs_attention" and order["delivery_id"] is None
    assert "Qzxwv 12" in order["reason"], order["reason"]
    assert await deliveries_of(client, shop) == []
    log = await client.get(f"/v1/webhooks/{webhook_id}/deliveries", headers=shop.org.headers)
    [announced] = log.json()["items"]
    assert announced["event_type"] == "shop_order.needs_attention", announced

    retry = f"/v1/shop-connections/{connection['id']}/orders/{order['id']}/retry"
    as_is = await client.post(retry, json={}, headers=shop.org.headers)
    assert as_is.status_code == 200 and as_is.json()["status"] == "needs_attention"
    fixed = await client.post(
        retry,
        json={"dropoff_address": "Chaussée d'Ixelles 280, 1050 Ixelles"},
        headers=shop.org.headers,
    )
    assert fixed.status_code == 200, fixed.text
    assert fixed.json()["status"] == "booked" and fixed.json()["reason"] is None
    [delivery] = await deliveries_of(client, shop)
    assert delivery["id"] == fixed.json()["delivery_id"] and delivery["parcels"]["weight_kg"] == 3
    assert_problem(await client.post(retry, json={}, headers=shop.org.headers), 409)
    other = await make_org("shop")
    assert_problem(await client.post(retry, json={}, headers=other.headers), 404)
    # Unsubscribed: no later test's worker tries to deliver to this test's closed receiver.
    await client.delete(f"/v1/webhooks/{webhook_id}", headers=shop.org.headers)


def shopify_headers(domain: str, secret: str, body: bytes, **more: str) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "X-Shopify-Shop-Domain": domain,
        "X-Shopify-Hmac-Sha256": signed(secret, body),
        "X-Shopify-API-Version": "2024-10",
        "X-Shopify-Triggered-At": datetime.now(BRUSSELS).isoformat(),
        **more,
    }


async def test_shopify_rates_in_cents_and_its_orders_booked_by_the_job_once(
    client: httpx.AsyncClient, make_org: OrgFactory, run_worker: WorkerRun
) -> None:
    shop = await a_shop_in_a_round(client, make_org)
    domain = f"velo-{uuid.uuid4().hex[:8]}.myshopify.com"
    secret = "shpss_" + uuid.uuid4().hex
    connection = await connected(client, shop, "shopify", shop_domain=domain, secret=secret)
    assert connection["rates_url"].endswith("/v1/shopify/rates")
    door = {"latitude": 50.8310, "longitude": 4.3750}

    rate_request = json.dumps(
        {
            "rate": {
                "origin": {"country": "BE", "postal_code": "1050", "city": "Ixelles"},
                "destination": {
                    "country": "BE",
                    "postal_code": "1050",
                    "city": "Ixelles",
                    "address1": "Place Flagey 18",
                    **door,
                },
                "items": [{"name": "Bouquet", "quantity": 2, "grams": 3500, "price": 2500}],
                "currency": "EUR",
                "locale": "fr",
            }
        }
    ).encode()
    rates = await client.post(
        connection["rates_url"],
        content=rate_request,
        headers=shopify_headers(domain, secret, rate_request),
    )
    assert rates.status_code == 200, rates.text
    offered = rates.json()["rates"]
    assert offered, rates.json()
    # 7 kg: 6.50 + 2 kg at 0.20 = 6.90, 21 % VAT: 8.35 -> "835" cents.
    assert {r["total_price"] for r in offered} == {"835"}
    assert all(r["currency"] == "EUR" and r["service_code"].startswith("boucle-") for r in offered)
    forged_rates = await client.post(
        connection["rates_url"],
        content=rate_request,
        headers=shopify_headers(domain, "wrong-secret-wrong", rate_request),
    )
    assert_problem(forged_rates, 401)
    # One rate a slot, whichever services ride it; the latest is bookable for a while yet.
    codes = [r["service_code"] for r in offered]
    assert len(set(codes)) == len(codes)
    chosen = offered[-1]

    order = {
        "id": 5_550_001,
        "name": "#1001",
        "total_weight": 7000,
        "currency": "EUR",
        "shipping_address": {
            "address1": "Place Flagey 18",
            "city": "Ixelles",
            "zip": "1050",
            "country_code": "BE",
            **door,
        },
        "shipping_lines": [
            {"code": chosen["service_code"], "title": chosen["service_name"], "price": "8.35"}
        ],
    }
    body = json.dumps(order).encode()

    async def send(topic: str, webhook_id: str, key: str = secret) -> httpx.Response:
        return await client.post(
            connection["webhook_url"],
            content=body,
            headers=shopify_headers(
                domain, key, body, **{"X-Shopify-Topic": topic, "X-Shopify-Webhook-Id": webhook_id}
            ),
        )

    assert_problem(await send("orders/create", "w-0", key="wrong-secret-wrong"), 401)
    assert await orders_of(client, shop, connection) == []
    assert (await send("orders/create", "w-1")).status_code == 200
    [taken] = await orders_of(client, shop, connection)
    assert taken["status"] == "received" and taken["reference"] == "#1001"
    assert taken["asked"]["dropoff"] == [4.375, 50.831]

    await run_worker()
    # Shopify retries the delivery, and sends the order again under another webhook id.
    assert (await send("orders/create", "w-1")).status_code == 200
    assert (await send("orders/create", "w-2")).status_code == 200
    await run_worker()
    [booked] = await orders_of(client, shop, connection)
    assert booked["status"] == "booked", booked
    [delivery] = await deliveries_of(client, shop)
    assert delivery["id"] == booked["delivery_id"] and delivery["parcels"]["weight_kg"] == 7
    assert datetime.fromisoformat(delivery["slot_starts_at"]) == datetime.fromisoformat(
        chosen["service_code"].removeprefix("boucle-")
    )

    assert (await send("orders/cancelled", "w-3")).status_code == 200
    [cancelled] = await orders_of(client, shop, connection)
    assert cancelled["status"] == "cancelled"
    assert (await deliveries_of(client, shop))[0]["status"] == "cancelled"


async def test_a_connection_is_refused_what_it_cannot_be(
    client: httpx.AsyncClient, make_org: OrgFactory
) -> None:
    shop = await a_shop_in_a_round(client, make_org)
    other = await make_org("shop")
    site_of_another = {"platform": "woocommerce", "pickup_site_id": shop.site_id}
    assert_problem(
        await client.post("/v1/shop-connections", json=site_of_another, headers=other.headers),
        422,
        "pickup_site_id",
        "own_site",
    )
    no_domain = {"platform": "shopify", "pickup_site_id": shop.site_id}
    assert_problem(
        await client.post("/v1/shop-connections", json=no_domain, headers=shop.org.headers), 422
    )
    prestashop = {"platform": "prestashop", "pickup_site_id": shop.site_id}
    assert_problem(
        await client.post("/v1/shop-connections", json=prestashop, headers=shop.org.headers),
        422,
        "platform",
        "supported_platform",
    )
    carrier = await make_org("carrier")
    assert_problem(
        await client.post("/v1/shop-connections", json=site_of_another, headers=carrier.headers),
        403,
    )
