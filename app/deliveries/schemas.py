"""What carriers, shops and their web shops send and read of shared delivery rounds: a delivery
service, a quote with its options, a delivery booked into a slot's round."""

import uuid
from datetime import datetime, time, timedelta
from enum import StrEnum
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, Field, field_validator, model_validator

from app.kit.geo import Point, PointIn
from app.kit.pagination import Link
from app.kit.schema import InputModel

# A zone's outline: enough for a commune drawn finely, not a country.
MAX_ZONE_POINTS = 20_000
# How far ahead a shop may ask: the slots of the next two weeks.
MAX_DAYS_AHEAD = 14


class ZoneIn(InputModel):
    """A GeoJSON Polygon or MultiPolygon in WGS84 ([longitude, latitude] pairs)."""

    type: Literal["Polygon", "MultiPolygon"] = Field(description="`Polygon` or `MultiPolygon`.")
    coordinates: list[list[tuple[float, float]]] | list[list[list[tuple[float, float]]]] = Field(
        description="The rings, as GeoJSON gives them: each ring closed (its last point its "
        f"first), at most {MAX_ZONE_POINTS:,} points in all.",
        examples=[
            [[[4.345, 50.848], [4.360, 50.848], [4.360, 50.858], [4.345, 50.858], [4.345, 50.848]]]
        ],
    )

    @model_validator(mode="after")
    def _rings(self) -> "ZoneIn":
        polygons: Any = [self.coordinates] if self.type == "Polygon" else self.coordinates
        rings = [ring for polygon in polygons for ring in polygon]
        if not polygons or any(not polygon for polygon in polygons):
            raise ValueError("each polygon has an outer ring")
        if sum(len(ring) for ring in rings) > MAX_ZONE_POINTS:
            raise ValueError(f"at most {MAX_ZONE_POINTS:,} points in all")
        for ring in rings:
            if len(ring) < 4 or ring[0] != ring[-1]:
                raise ValueError("each ring has 4 points at least and ends where it starts")
            if any(not (-180 <= lon <= 180 and -90 <= lat <= 90) for lon, lat in ring):
                raise ValueError("longitudes lie in [-180, 180], latitudes in [-90, 90]")
        return self


class SlotIn(InputModel):
    start: time = Field(
        description="When the round starts, local time in Brussels.", examples=["09:00"]
    )
    end: time = Field(description="When its last delivery is due, local time.", examples=["12:00"])
    cutoff_before: timedelta = Field(
        description="How long before the start bookings close (ISO 8601 duration): at the "
        "cut-off the round is planned.",
        examples=["PT2H"],
    )

    @model_validator(mode="after")
    def _ordered(self) -> "SlotIn":
        if self.start >= self.end:
            raise ValueError("a slot ends after it starts")
        if not timedelta(0) <= self.cutoff_before <= timedelta(days=2):
            raise ValueError("cutoff_before lies between PT0S and P2D")
        return self


class PriceList(InputModel):
    per_delivery_eur: float = Field(ge=0, le=1000, description="Price of a delivery, before VAT.")
    per_kg_eur: float = Field(
        default=0, ge=0, le=100, description="Added per kg beyond `included_kg`, before VAT."
    )
    included_kg: float = Field(
        default=0, ge=0, le=1000, description="Kg the delivery price covers."
    )
    vat_rate: float = Field(
        default=0.21, ge=0, lt=1, description="VAT as a fraction (Belgium's standard rate: 0.21)."
    )


class DeliveryServiceCreate(InputModel):
    name: str = Field(
        min_length=1,
        max_length=200,
        description="What shops see it called, 1 to 200 characters.",
        examples=["Saint-Gilles morning round"],
    )
    hub_site_id: uuid.UUID = Field(
        description="The hub the rounds ride from and back to: one of your sites of kind hub."
    )
    zone: ZoneIn | None = Field(
        default=None,
        description="Where the service picks up and delivers, drawn: with `districts`, both.",
    )
    districts: list[str] = Field(
        default_factory=list,
        max_length=50,
        description="Shopping districts it serves, by slug (`GET /v1/districts`): with `zone`, "
        "both. One of them at least.",
        examples=[["rue-neuve-nieuwstraat"]],
    )
    weekdays: list[int] = Field(
        min_length=1,
        max_length=7,
        description="ISO weekdays it rides: 1 Monday to 7 Sunday.",
        examples=[[1, 2, 3, 4, 5]],
    )
    slots: list[SlotIn] = Field(min_length=1, max_length=12, description="Its slots of a day.")
    vehicle_ids: list[uuid.UUID] = Field(
        min_length=1, max_length=50, description="The vehicles of your fleet that ride its rounds."
    )
    prices: PriceList = Field(description="What a delivery costs the shop.")
    max_parcel_kg: float = Field(
        gt=0, le=1000, description="The heaviest delivery it takes, in kg."
    )
    max_parcel_m3: float = Field(gt=0, le=10, description="The bulkiest delivery it takes, in m3.")

    @model_validator(mode="after")
    def _somewhere(self) -> "DeliveryServiceCreate":
        if self.zone is None and not self.districts:
            raise ValueError("give a zone, districts, or both")
        return self

    @field_validator("weekdays")
    @classmethod
    def _weekdays(cls, value: list[int]) -> list[int]:
        if any(not 1 <= day <= 7 for day in value) or len(set(value)) != len(value):
            raise ValueError("distinct ISO weekdays, 1 (Monday) to 7 (Sunday)")
        return sorted(value)


class Slot(BaseModel):
    start: time = Field(description="When the round starts, local time in Brussels.")
    end: time = Field(description="When its last delivery is due, local time.")
    cutoff_before: timedelta = Field(description="How long before the start bookings close.")


class DeliveryService(BaseModel):
    id: uuid.UUID = Field(description="The service's id.")
    organization_id: uuid.UUID = Field(description="The carrier's organization.")
    name: str = Field(description="What shops see it called.")
    hub_site_id: uuid.UUID = Field(description="The hub its rounds ride from and back to.")
    districts: list[str] = Field(description="The shopping districts its zone takes in.")
    weekdays: list[int] = Field(description="ISO weekdays it rides: 1 Monday to 7 Sunday.")
    slots: list[Slot] = Field(description="Its slots of a day.")
    vehicle_ids: list[uuid.UUID] = Field(description="The vehicles that ride its rounds.")
    prices: PriceList = Field(description="What a delivery costs the shop.")
    max_parcel_kg: float = Field(description="The heaviest delivery it takes, in kg.")
    max_parcel_m3: float = Field(description="The bulkiest delivery it takes, in m3.")
    active: bool = Field(description="Whether shops are offered its slots.")
    created_at: datetime = Field(description="When it was published.")


class DeliveryServicePage(BaseModel):
    items: list[DeliveryService] = Field(description="A page of your services, oldest first.")
    links: list[Link] = Field(description="`next` when the page is full.")


class Parcels(InputModel):
    count: int = Field(ge=1, le=100, description="How many parcels.", examples=[2])
    weight_kg: float = Field(gt=0, le=1000, description="Their weight in all, kg.", examples=[6.5])
    volume_m3: float = Field(gt=0, le=10, description="Their volume in all, m3.", examples=[0.04])


class DeliveryAsk(InputModel):
    """A delivery a shop wants: from its shop to a customer, within a window."""

    pickup_site_id: uuid.UUID | None = Field(
        default=None, description="Where the parcels wait: one of your sites (or give `pickup`)."
    )
    pickup: PointIn | None = Field(default=None, description="Where, when not a site of yours.")
    dropoff: PointIn | None = Field(
        default=None, description="The customer's door, or give `dropoff_address` alone."
    )
    dropoff_address: str | None = Field(
        default=None,
        min_length=3,
        max_length=500,
        description="The address as the customer gave it, kept; without `dropoff`, found by the "
        "geocoder (`GET /v1/geocode`), to the door or at least the street, else 422 "
        "`address_not_found` with what it may mean.",
        examples=["Rue de la Victoire 120, 1060 Saint-Gilles"],
    )
    parcels: Parcels = Field(description="What is carried.")
    earliest: AwareDatetime = Field(description="Delivered no earlier than this.")
    latest: AwareDatetime = Field(description="Delivered no later than this.")

    @model_validator(mode="after")
    def _window(self) -> "DeliveryAsk":
        if self.dropoff is None and self.dropoff_address is None:
            raise ValueError("give dropoff or dropoff_address")
        if self.latest <= self.earliest:
            raise ValueError("latest comes after earliest")
        if self.latest - self.earliest > timedelta(days=MAX_DAYS_AHEAD):
            raise ValueError(f"the window spans at most {MAX_DAYS_AHEAD} days")
        return self


class QuoteOption(BaseModel):
    id: str = Field(description="The option's id within its quote, to book it.")
    service_id: uuid.UUID = Field(description="The delivery service that would carry it.")
    service_name: str = Field(description="Its name.")
    slot_starts_at: datetime = Field(description="When the slot's round starts.")
    slot_ends_at: datetime = Field(description="When its last delivery is due.")
    cutoff_at: datetime = Field(description="Bookable until then.")
    deliver_from: datetime = Field(description="Delivered no earlier than this.")
    deliver_until: datetime = Field(description="Delivered no later than this.")
    vehicle_type: str = Field(description="What would carry it: cargo_bike, van, ...")
    price_excl_vat: float = Field(description="EUR, before VAT.")
    vat: float = Field(description="EUR.")
    price_incl_vat: float = Field(description="EUR, VAT included.")
    currency: Literal["EUR"] = Field(default="EUR", description="Always EUR.")
    co2e_g: float = Field(description="Grams of CO2e the round adds to carry it.")
    van_co2e_g: float = Field(
        description="Grams of CO2e the same delivery by van alone, from the hub and back."
    )


class Quote(BaseModel):
    id: uuid.UUID = Field(description="The quote's id, to book one of its options.")
    options: list[QuoteOption] = Field(description="Cheapest first, then soonest.")
    expires_at: datetime = Field(description="Book an option before then.")
    created_at: datetime = Field(description="When it was answered.")


class DeliveryCreate(InputModel):
    """An option of an unexpired quote, or a delivery asked directly (its first fitting option
    is booked)."""

    quote_id: uuid.UUID | None = Field(default=None, description="An unexpired quote of yours.")
    option_id: str | None = Field(
        default=None,
        max_length=20,
        description="The option of that quote to book.",
        examples=["opt-1"],
    )
    ask: DeliveryAsk | None = Field(default=None, description="Instead of a quote.")
    reference: str | None = Field(
        default=None, max_length=200, description="Your order's number.", examples=["#1042"]
    )

    @model_validator(mode="after")
    def _one_way(self) -> "DeliveryCreate":
        quoted = self.quote_id is not None and self.option_id is not None
        if quoted == (self.ask is not None):
            raise ValueError("give quote_id and option_id, or ask")
        return self


class DeliveryStatus(StrEnum):
    booked = "booked"
    planned = "planned"
    cancelled = "cancelled"
    needs_attention = "needs_attention"


class ShopDelivery(BaseModel):
    """A delivery a shop booked into a carrier's shared round."""

    id: uuid.UUID = Field(description="The delivery's id.")
    status: DeliveryStatus = Field(
        description="booked (in its slot's round), planned (past the cut-off, in the planned "
        "round), cancelled, or needs_attention (it could not be booked as sent: see why)."
    )
    reference: str | None = Field(description="The shop's order number.")
    service_id: uuid.UUID = Field(description="The delivery service carrying it.")
    slot_starts_at: datetime = Field(description="When its slot's round starts.")
    slot_ends_at: datetime = Field(description="When the slot's last delivery is due.")
    cutoff_at: datetime = Field(description="Cancellable until then; then the round is planned.")
    pickup: Point = Field(description="Where it is picked up.")
    dropoff: Point = Field(description="Where it is delivered.")
    dropoff_address: str | None = Field(description="The address as the customer gave it.")
    parcels: Parcels = Field(description="What is carried.")
    deliver_from: datetime = Field(description="Delivered no earlier than this.")
    deliver_until: datetime = Field(description="Delivered no later than this.")
    price_excl_vat: float = Field(description="EUR, before VAT, as quoted.")
    price_incl_vat: float = Field(description="EUR, VAT included, as quoted.")
    vat_rate: float = Field(description="The VAT rate applied, as a fraction.")
    co2e_g: float = Field(description="Grams of CO2e the round adds to carry it.")
    van_co2e_g: float = Field(description="Grams of CO2e by van alone, from the hub and back.")
    created_at: datetime = Field(description="When it was booked.")
    cancelled_at: datetime | None = Field(description="When it was cancelled.")


class ShopDeliveryPage(BaseModel):
    items: list[ShopDelivery] = Field(description="A page of your deliveries, oldest first.")
    links: list[Link] = Field(description="`next` when the page is full.")


class SlotDelivery(BaseModel):
    """A delivery as its carrier sees it: what to pick up where, and where to bring it."""

    id: uuid.UUID = Field(description="The delivery's id (the shipment's id in the slot's plan).")
    shop_organization_id: uuid.UUID = Field(description="The shop that booked it.")
    status: DeliveryStatus = Field(description="As the shop sees it.")
    reference: str | None = Field(description="The shop's order number.")
    pickup: Point = Field(description="Where it is picked up.")
    dropoff: Point = Field(description="Where it is delivered.")
    dropoff_address: str | None = Field(description="The address as the customer gave it.")
    parcels: Parcels = Field(description="What is carried.")
    deliver_from: datetime = Field(description="Delivered no earlier than this.")
    deliver_until: datetime = Field(description="Delivered no later than this.")


class ServiceSlot(BaseModel):
    """A slot of one of your services that has had bookings, and its rounds."""

    id: uuid.UUID = Field(description="The slot's id.")
    starts_at: datetime = Field(description="When its rounds start.")
    ends_at: datetime = Field(description="When its last delivery is due.")
    cutoff_at: datetime = Field(description="When bookings close and the rounds are planned.")
    status: Literal["open", "planning", "planned"] = Field(
        description="open (taking bookings), planning (past the cut-off, its plan running), "
        "planned."
    )
    route_plan_id: uuid.UUID | None = Field(
        description="The route plan made at the cut-off (`GET /v1/route-plans/{id}`)."
    )
    rounds: dict[str, list[tuple[Literal["pickup", "delivery"], uuid.UUID]]] = Field(
        description="Each vehicle's stops as booked so far, in order: [kind, delivery id]."
    )
    deliveries: list[SlotDelivery] = Field(description="Its deliveries, cancelled ones included.")


class ServiceSlotPage(BaseModel):
    items: list[ServiceSlot] = Field(description="The slots, soonest first.")
