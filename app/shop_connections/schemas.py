"""What a shop sends and reads of its web shops' connections and the orders they sent."""

import uuid
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field, model_validator

from app.kit.geo import PointIn
from app.kit.pagination import Link
from app.kit.schema import InputModel


class Platform(StrEnum):
    woocommerce = "woocommerce"
    shopify = "shopify"
    prestashop = "prestashop"


class OrderStatus(StrEnum):
    received = "received"
    booked = "booked"
    needs_attention = "needs_attention"
    cancelled = "cancelled"


class ShopConnectionCreate(InputModel):
    platform: Platform = Field(
        description="The web shop's platform (`prestashop`: 422 `supported_platform` for now).",
        examples=["woocommerce"],
    )
    pickup_site_id: uuid.UUID = Field(
        description="Where the orders' parcels wait for the round: one of your sites."
    )
    shop_domain: str | None = Field(
        default=None,
        min_length=3,
        max_length=255,
        pattern=r"^[a-z0-9][a-z0-9.-]*\.[a-z]{2,}$",
        description="Shopify only (and required there): the shop's myshopify domain, as "
        "Shopify sends it in `X-Shopify-Shop-Domain`.",
        examples=["velo-fleurs.myshopify.com"],
    )
    secret: str | None = Field(
        default=None,
        min_length=16,
        max_length=200,
        description="The secret the platform signs with. Shopify: your app's client secret "
        "(Shopify signs with it). WooCommerce: leave it out and paste the one answered.",
    )
    default_weight_kg: float = Field(
        default=2,
        gt=0,
        le=1000,
        description="An order's weight when the platform sends none, kg.",
        examples=[2],
    )
    default_volume_m3: float = Field(
        default=0.02, gt=0, le=10, description="An order's volume (no platform sends one), m3."
    )

    @model_validator(mode="after")
    def _domain(self) -> "ShopConnectionCreate":
        if (self.platform == Platform.shopify) != (self.shop_domain is not None):
            raise ValueError("shop_domain is given for Shopify, and only for Shopify")
        return self


class ShopConnection(BaseModel):
    id: uuid.UUID = Field(description="The connection's id.")
    platform: Platform = Field(description="The web shop's platform.")
    pickup_site_id: uuid.UUID = Field(description="Where the orders' parcels wait.")
    shop_domain: str | None = Field(description="Shopify's shop domain.")
    default_weight_kg: float = Field(description="An order's weight when none is sent, kg.")
    default_volume_m3: float = Field(description="An order's volume, m3.")
    webhook_url: str = Field(
        description="The address to paste in the platform as the orders' webhook (WooCommerce: "
        "Delivery URL of order.created and order.updated; Shopify: orders/create and "
        "orders/cancelled)."
    )
    rates_url: str | None = Field(
        description="Shopify: the CarrierService's callback_url, for live rates at checkout."
    )
    created_at: datetime = Field(description="When it was made.")


class ShopConnectionCreated(ShopConnection):
    secret: str = Field(
        description="The secret the platform signs with (WooCommerce: paste it as the "
        "webhook's Secret). Shown in this answer only."
    )


class ShopConnectionPage(BaseModel):
    items: list[ShopConnection] = Field(description="A page of your connections, oldest first.")
    links: list[Link] = Field(description="`next` when the page is full.")


class OrderAsked(BaseModel):
    """What an order asks, as read from the platform's payload (or fixed by the shop)."""

    dropoff_address: str | None = Field(default=None, description="The shipping address.")
    dropoff: list[float] | None = Field(
        default=None, description="[longitude, latitude] when the platform gave them."
    )
    weight_kg: float = Field(description="The parcels' weight, kg.")
    volume_m3: float = Field(description="Their volume, m3.")
    slot_starts_at: datetime | None = Field(
        default=None, description="The slot the customer chose, if any."
    )


class ShopOrder(BaseModel):
    id: uuid.UUID = Field(description="The order's id at boucle.")
    connection_id: uuid.UUID = Field(description="The connection it came through.")
    platform_order_id: str = Field(description="The order's id on the platform.")
    reference: str | None = Field(description="Its number as the shop shows it.")
    status: OrderStatus = Field(
        description="`received` (its booking is queued), `booked`, `needs_attention` (see "
        "`reason`; fix it and retry) or `cancelled`."
    )
    reason: str | None = Field(description="Why it could not be booked.")
    asked: OrderAsked = Field(description="What it asks.")
    delivery_id: uuid.UUID | None = Field(description="Its delivery, once booked.")
    created_at: datetime = Field(description="When it was received.")
    updated_at: datetime = Field(description="When it last changed.")


class ShopOrderPage(BaseModel):
    items: list[ShopOrder] = Field(description="A page of the orders, oldest first.")
    links: list[Link] = Field(description="`next` when the page is full.")


class OrderFix(InputModel):
    """What the shop corrects before booking a held order again; nothing: booked as it is."""

    dropoff_address: str | None = Field(
        default=None,
        min_length=3,
        max_length=500,
        description="The corrected address, found by the geocoder.",
        examples=["Rue Neuve 111, 1000 Bruxelles"],
    )
    dropoff: PointIn | None = Field(default=None, description="The customer's door itself.")
    weight_kg: float | None = Field(default=None, gt=0, le=1000, description="The weight, kg.")
