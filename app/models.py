"""The ORM mapping of every table. Alembic migrations are the only way the schema changes;
these classes describe it for queries."""

import uuid
from datetime import UTC, date, datetime, time
from typing import Any

from geoalchemy2 import Geometry, WKBElement, WKTElement
from sqlalchemy import (
    BigInteger,
    Boolean,
    Computed,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    Numeric,
    String,
    Text,
    Time,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


def _uuid_pk() -> Mapped[uuid.UUID]:
    return mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)


def _quantity() -> Mapped[float]:
    # Exact in the database (no float drift when quantities are split), float in Python.
    return mapped_column(Numeric(16, 3, asdecimal=False), nullable=False)


def _optional_quantity() -> Mapped[float | None]:
    return mapped_column(Numeric(16, 3, asdecimal=False), nullable=True)


def _now() -> datetime:
    return datetime.now(UTC)


class Timestamped:
    # Set in Python, not by the server, so that the values are known without a round trip.
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, default=_now
    )
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, default=_now, onupdate=_now
    )


class Material(Base):
    __tablename__ = "materials"

    code: Mapped[str] = mapped_column(String(6), primary_key=True)
    display: Mapped[str] = mapped_column(String(12), nullable=False)
    chapter: Mapped[str] = mapped_column(String(2), nullable=False)
    subchapter: Mapped[str] = mapped_column(String(4), nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False)
    hazardous: Mapped[bool] = mapped_column(Boolean, nullable=False)
    chapter_title: Mapped[str] = mapped_column(Text, nullable=False)
    subchapter_title: Mapped[str] = mapped_column(Text, nullable=False)
    entry_type: Mapped[str] = mapped_column(String(32), nullable=False)


class ServiceArea(Base):
    __tablename__ = "service_areas"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    geom: Mapped[WKBElement] = mapped_column(
        Geometry("MULTIPOLYGON", srid=4326, spatial_index=False), nullable=False
    )


class Commune(Base):
    """One of the 19 communes of the Region, where the statistics place a flow."""

    __tablename__ = "communes"

    nis_code: Mapped[str] = mapped_column(String(5), primary_key=True)
    name: Mapped[str] = mapped_column(Text, nullable=False)
    name_fr: Mapped[str] = mapped_column(Text, nullable=False)
    name_nl: Mapped[str] = mapped_column(Text, nullable=False)
    geom: Mapped[WKBElement] = mapped_column(
        Geometry("MULTIPOLYGON", srid=4326, spatial_index=False), nullable=False
    )


class Organization(Timestamped, Base):
    __tablename__ = "organizations"

    id: Mapped[uuid.UUID] = _uuid_pk()
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    roles: Mapped[list[str]] = mapped_column(ARRAY(String(20)), nullable=False)


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[uuid.UUID] = _uuid_pk()
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False
    )
    name: Mapped[str | None] = mapped_column(String(100))
    # The key's first characters, to recognise it in a list; far too few to use it. Null for
    # the keys made before they were kept.
    prefix: Mapped[str | None] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
    # Written at most once a minute per key, so that reads do not write on every request.
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class OrganizationRow(Timestamped):
    """A row of one organization, with a version (its ETag)."""

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False, index=True
    )
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)


class Owned(OrganizationRow):
    """An organization's row with a place."""

    location: Mapped[WKBElement | WKTElement] = mapped_column(
        Geometry("POINT", srid=4326, spatial_index=False), nullable=False
    )


class Listing(Owned):
    """What offers and requests share: a place, a quantity with its remaining part, a status."""

    site_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("sites.id", ondelete="RESTRICT"))
    description: Mapped[str | None] = mapped_column(Text)
    quantity_value: Mapped[float] = _quantity()
    quantity_unit: Mapped[str] = mapped_column(String(8), nullable=False)
    remaining_value: Mapped[float] = _quantity()
    mass_kg: Mapped[float | None] = _optional_quantity()
    volume_m3: Mapped[float | None] = _optional_quantity()
    status: Mapped[str] = mapped_column(String(12), nullable=False, default="open")
    notes: Mapped[str | None] = mapped_column(Text)


class Site(Owned, Base):
    __tablename__ = "sites"

    name: Mapped[str] = mapped_column(String(200), nullable=False)
    kind: Mapped[str] = mapped_column(String(20), nullable=False)
    address: Mapped[str | None] = mapped_column(Text)
    opening_hours: Mapped[str | None] = mapped_column(Text)
    access_notes: Mapped[str | None] = mapped_column(Text)

    __mapper_args__ = {"version_id_col": Owned.version}  # noqa: RUF012


class Offer(Listing, Base):
    __tablename__ = "offers"

    material: Mapped[str] = mapped_column(ForeignKey("materials.code"), nullable=False)
    item_type: Mapped[str | None] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(200), nullable=False)
    available_from: Mapped[date] = mapped_column(Date, nullable=False)
    available_until: Mapped[date | None] = mapped_column(Date)
    condition: Mapped[str] = mapped_column(String(1), nullable=False)
    min_lot: Mapped[float | None] = _optional_quantity()
    price_per_unit: Mapped[float | None] = mapped_column(Numeric(12, 2, asdecimal=False))

    __mapper_args__ = {"version_id_col": Owned.version}  # noqa: RUF012


class MaterialRequest(Listing, Base):
    """A request for material (the API calls them requests; the name avoids HTTP's)."""

    __tablename__ = "material_requests"

    # A 6-digit EWC code, a 4-digit sub-chapter or a 2-digit chapter.
    material: Mapped[str] = mapped_column(String(6), nullable=False)
    title: Mapped[str | None] = mapped_column(String(200))
    needed_from: Mapped[date] = mapped_column(Date, nullable=False)
    needed_by: Mapped[date] = mapped_column(Date, nullable=False)
    max_distance_km: Mapped[float] = mapped_column(Numeric(8, 3, asdecimal=False), nullable=False)
    min_condition: Mapped[str] = mapped_column(String(1), nullable=False)
    max_price_per_unit: Mapped[float | None] = mapped_column(Numeric(12, 2, asdecimal=False))

    __mapper_args__ = {"version_id_col": Owned.version}  # noqa: RUF012


class MatchingRun(Timestamped, Base):
    """A global allocation over open offers and requests, run as a job."""

    __tablename__ = "matching_runs"

    id: Mapped[uuid.UUID] = _uuid_pk()
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False
    )
    material: Mapped[str | None] = mapped_column(String(6))
    # {"near": [lon, lat], "radius_km": r}: requests delivered within it.
    area: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    cost_per_tonne_km: Mapped[float] = mapped_column(Float, nullable=False)
    status: Mapped[str] = mapped_column(String(12), nullable=False, default="queued")
    # How many times a worker started it (a worker that dies mid-run leaves it to another).
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    totals: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Match(Timestamped, Base):
    __tablename__ = "matches"

    id: Mapped[uuid.UUID] = _uuid_pk()
    offer_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("offers.id", ondelete="RESTRICT"), nullable=False
    )
    request_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("material_requests.id", ondelete="RESTRICT"), nullable=False
    )
    quantity_value: Mapped[float] = _quantity()
    quantity_unit: Mapped[str] = mapped_column(String(8), nullable=False)
    offer_quantity_value: Mapped[float] = _quantity()
    offer_quantity_unit: Mapped[str] = mapped_column(String(8), nullable=False)
    mass_kg: Mapped[float | None] = _optional_quantity()
    distance_m: Mapped[float] = mapped_column(Float, nullable=False)
    distance_kind: Mapped[str] = mapped_column(String(16), nullable=False)
    score: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    status: Mapped[str] = mapped_column(String(12), nullable=False, default="proposed")
    # Who proposed it: a matching run, or one of the two sides.
    proposed_by: Mapped[str] = mapped_column(String(12), nullable=False)
    run_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("matching_runs.id", ondelete="SET NULL")
    )
    offer_accepted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    request_accepted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    fulfilled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The versions of the offer and the request the match was proposed on: its terms.
    offer_version: Mapped[int | None] = mapped_column(Integer)
    request_version: Mapped[int | None] = mapped_column(Integer)
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class Webhook(Timestamped, Base):
    __tablename__ = "webhooks"

    id: Mapped[uuid.UUID] = _uuid_pk()
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False
    )
    url: Mapped[str] = mapped_column(Text, nullable=False)
    events: Mapped[list[str]] = mapped_column(ARRAY(String(40)), nullable=False)
    # Kept in clear: boucle signs every delivery with it.
    secret: Mapped[str] = mapped_column(Text, nullable=False)
    # The secret the last rotation replaced, which signs beside `secret` until
    # `previous_secret_until` so that the receiver has time to take the new one.
    previous_secret: Mapped[str | None] = mapped_column(Text)
    previous_secret_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class WebhookEvent(Base):
    """The outbox: one row per event and recipient, written in the transaction of the change;
    its id is derived from the fact and the recipient (`app.webhooks.outbox.event_id`)."""

    __tablename__ = "webhook_events"

    id: Mapped[uuid.UUID] = _uuid_pk()
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False
    )
    type: Mapped[str] = mapped_column(String(40), nullable=False)
    data: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, default=_now
    )


class WebhookDelivery(Timestamped, Base):
    __tablename__ = "webhook_deliveries"

    id: Mapped[uuid.UUID] = _uuid_pk()
    webhook_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("webhooks.id", ondelete="CASCADE"), nullable=False
    )
    event_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("webhook_events.id", ondelete="CASCADE"), nullable=False
    )
    status: Mapped[str] = mapped_column(String(12), nullable=False, default="pending")
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    # One entry per attempt: when, the HTTP status or the error, how long it took.
    log: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, nullable=False, default=list)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Vehicle(OrganizationRow, Base):
    __tablename__ = "vehicles"

    name: Mapped[str] = mapped_column(String(200), nullable=False)
    type: Mapped[str] = mapped_column(String(20), nullable=False)
    capacity_kg: Mapped[float] = mapped_column(Float, nullable=False)
    capacity_m3: Mapped[float] = mapped_column(Float, nullable=False)
    speed_kmh: Mapped[float] = mapped_column(Float, nullable=False)
    range_km: Mapped[float | None] = mapped_column(Float)
    start_location: Mapped[WKBElement | WKTElement] = mapped_column(
        Geometry("POINT", srid=4326, spatial_index=False), nullable=False
    )
    end_location: Mapped[WKBElement | WKTElement] = mapped_column(
        Geometry("POINT", srid=4326, spatial_index=False), nullable=False
    )
    shift_start: Mapped[time] = mapped_column(Time, nullable=False)
    shift_end: Mapped[time] = mapped_column(Time, nullable=False)
    cost_per_km: Mapped[float] = mapped_column(Float, nullable=False)
    cost_per_hour: Mapped[float] = mapped_column(Float, nullable=False)
    fixed_cost: Mapped[float] = mapped_column(Float, nullable=False)
    co2_g_per_km: Mapped[float] = mapped_column(Float, nullable=False)
    stop_time_s: Mapped[int] = mapped_column(Integer, nullable=False, default=0)


class ShipmentRow(OrganizationRow, Base):
    """A transport job: carry a load from a pickup to a delivery within their windows."""

    __tablename__ = "shipments"

    reference: Mapped[str | None] = mapped_column(String(200))
    pickup_location: Mapped[WKBElement | WKTElement] = mapped_column(
        Geometry("POINT", srid=4326, spatial_index=False), nullable=False
    )
    pickup_from: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    pickup_until: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    pickup_service_s: Mapped[int] = mapped_column(Integer, nullable=False)
    delivery_location: Mapped[WKBElement | WKTElement] = mapped_column(
        Geometry("POINT", srid=4326, spatial_index=False), nullable=False
    )
    delivery_from: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    delivery_until: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    delivery_service_s: Mapped[int] = mapped_column(Integer, nullable=False)
    load_kg: Mapped[float] = mapped_column(Float, nullable=False)
    load_m3: Mapped[float] = mapped_column(Float, nullable=False)
    match_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("matches.id", ondelete="SET NULL")
    )


class RoutePlan(OrganizationRow, Base):
    __tablename__ = "route_plans"

    date: Mapped[date] = mapped_column(Date, nullable=False)
    status: Mapped[str] = mapped_column(String(12), nullable=False, default="queued")
    matrix: Mapped[str] = mapped_column(String(20), nullable=False)
    objective: Mapped[str] = mapped_column(String(30), nullable=False)
    mode: Mapped[str] = mapped_column(String(10), nullable=False, default="direct")
    time_limit_s: Mapped[float] = mapped_column(Float, nullable=False)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    # The vehicles and shipments as they were when the plan was asked for.
    inputs: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Set by its owner; a running plan's worker stops its search when it sees it.
    cancel_requested_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # While running: the phase and what it knows so far (see app.route_plans.progress).
    progress: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    # Each vehicle's stops of a plan to start from (a slot's rounds as booked), or none.
    initial_routes: Mapped[dict[str, list[list[str]]] | None] = mapped_column(JSONB)


class HubLimit(Base):
    """A hub's capacity, for the whole hub (material '') or for one material family."""

    __tablename__ = "hub_limits"

    hub_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("sites.id", ondelete="CASCADE"), primary_key=True
    )
    material: Mapped[str] = mapped_column(String(6), primary_key=True)
    max_t: Mapped[float | None] = _optional_quantity()
    max_m3: Mapped[float | None] = _optional_quantity()


class HubPoolingThreshold(Base):
    """How much of a material family, in stock and offered nearby, is worth moving at once."""

    __tablename__ = "hub_pooling_thresholds"

    hub_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("sites.id", ondelete="CASCADE"), primary_key=True
    )
    material: Mapped[str] = mapped_column(String(6), primary_key=True)
    threshold_t: Mapped[float] = _quantity()
    radius_km: Mapped[float] = mapped_column(Numeric(8, 3, asdecimal=False), nullable=False)
    reached_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class HubPublication(Base):
    """What a hub's operator publishes of it in the open data (the view `ogc.hubs`): nothing
    without a row, or with `public` false."""

    __tablename__ = "hub_publications"

    hub_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("sites.id", ondelete="CASCADE"), primary_key=True
    )
    public: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    # 'rounded' (tonnes and m3 to the unit) or 'exact' (to three decimals).
    stock: Mapped[str] = mapped_column(String(8), nullable=False, default="rounded")


class HubLot(Base):
    """A lot in a hub: what it is, not how much (that is the sum of its movements)."""

    __tablename__ = "hub_lots"

    id: Mapped[uuid.UUID] = _uuid_pk()
    hub_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sites.id"), nullable=False)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False
    )
    code: Mapped[str] = mapped_column(String(64), nullable=False)
    material: Mapped[str] = mapped_column(ForeignKey("materials.code"), nullable=False)
    condition: Mapped[str] = mapped_column(String(1), nullable=False)
    unit: Mapped[str] = mapped_column(String(8), nullable=False)
    mass_per_unit_kg: Mapped[float | None] = mapped_column(Float)
    volume_per_unit_m3: Mapped[float | None] = mapped_column(Float)
    price_per_unit: Mapped[float | None] = mapped_column(Numeric(12, 2, asdecimal=False))
    offer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("offers.id"), nullable=False)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, default=_now
    )


class HubMovement(Base):
    """One intake into or dispatch out of a hub; never updated or deleted (a trigger sees to
    it)."""

    __tablename__ = "hub_movements"

    id: Mapped[uuid.UUID] = _uuid_pk()
    hub_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sites.id"), nullable=False)
    lot_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("hub_lots.id"), nullable=False)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False
    )
    kind: Mapped[str] = mapped_column(String(8), nullable=False)
    quantity_value: Mapped[float] = _quantity()
    mass_kg: Mapped[float | None] = mapped_column(Float)
    volume_m3: Mapped[float | None] = mapped_column(Float)
    offer_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("offers.id"))
    match_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("matches.id"))
    shipment_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("shipments.id"))
    walk_in: Mapped[str | None] = mapped_column(String(200))
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, default=_now
    )


class IdempotencyRecord(Base):
    __tablename__ = "idempotency_keys"

    # Whose key it is, known only once the request is authenticated: the organization's id,
    # or "admin" for the admin token. Then the client's key.
    scope: Mapped[str] = mapped_column(String(64), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    method: Mapped[str] = mapped_column(String(8), nullable=False)
    path: Mapped[str] = mapped_column(Text, nullable=False)
    request_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    # Null while the first request is still being served.
    status_code: Mapped[int | None] = mapped_column(Integer)
    response_headers: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    response_body: Mapped[bytes | None] = mapped_column(LargeBinary)
    # The response held a secret shown once (it said `Cache-Control: no-store`): its body was
    # not kept, only its status and Location.
    secret_withheld: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    # While the first request is served: past this its process is taken for dead, and the
    # same request again takes the key over.
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class RateLimitCounter(Base):
    """The requests of one caller in its current window (UNLOGGED: see migration 0018)."""

    __tablename__ = "rate_limit_counters"

    # Who is counted: `key:<api key id>`, `admin`, or `address:<client address>` for requests
    # without a valid key.
    subject: Mapped[str] = mapped_column(Text, primary_key=True)
    # The window began with the first request after the previous one ended; it ends here.
    window_ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    count: Mapped[int] = mapped_column(Integer, nullable=False)


class DeliveryService(OrganizationRow, Base):
    """A carrier's shared delivery rounds: where, from which hub, when, with what, at what
    price (migration 0030)."""

    __tablename__ = "delivery_services"

    name: Mapped[str] = mapped_column(String(200), nullable=False)
    hub_site_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sites.id"), nullable=False)
    # The shopping districts its zone was drawn from (their outlines as they were then).
    district_slugs: Mapped[list[str]] = mapped_column(ARRAY(String(120)), nullable=False)
    zone: Mapped[WKBElement | WKTElement] = mapped_column(
        Geometry("MULTIPOLYGON", srid=4326, spatial_index=False), nullable=False
    )
    # ISO weekdays, 1 (Monday) to 7.
    weekdays: Mapped[list[int]] = mapped_column(ARRAY(Integer), nullable=False)
    # Each slot: its local start and end ("09:00") and its cut-off before the start, in seconds.
    slots: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, nullable=False)
    vehicle_ids: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(UUID(as_uuid=True)), nullable=False)
    price_per_delivery: Mapped[float] = mapped_column(Numeric(12, 4, asdecimal=False))
    price_per_kg: Mapped[float] = mapped_column(Numeric(12, 4, asdecimal=False))
    included_kg: Mapped[float] = mapped_column(Float, nullable=False)
    vat_rate: Mapped[float] = mapped_column(Numeric(5, 4, asdecimal=False), nullable=False)
    max_parcel_kg: Mapped[float] = mapped_column(Float, nullable=False)
    max_parcel_m3: Mapped[float] = mapped_column(Float, nullable=False)
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)


class DeliverySlot(Base):
    """One slot of a service on one day, and the round its bookings were inserted into; its
    row is the lock of every booking into it."""

    __tablename__ = "delivery_slots"

    id: Mapped[uuid.UUID] = _uuid_pk()
    service_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("delivery_services.id", ondelete="CASCADE"), nullable=False
    )
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    cutoff_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    status: Mapped[str] = mapped_column(String(12), nullable=False, default="open")
    # Each vehicle's stops in order: {"<vehicle id>": [["pickup", "<delivery id>"], ...]}.
    plan: Mapped[dict[str, list[list[str]]]] = mapped_column(JSONB, nullable=False, default=dict)
    route_plan_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("route_plans.id", ondelete="SET NULL")
    )


class DeliveryQuote(OrganizationRow, Base):
    """What a shop asked and the options it was answered, until they expire."""

    __tablename__ = "delivery_quotes"

    asked: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    options: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, nullable=False)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class Delivery(OrganizationRow, Base):
    """A shop's delivery booked into a slot's round."""

    __tablename__ = "deliveries"

    service_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("delivery_services.id"), nullable=False
    )
    slot_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("delivery_slots.id"), nullable=False)
    quote_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("delivery_quotes.id", ondelete="SET NULL")
    )
    status: Mapped[str] = mapped_column(String(20), nullable=False)
    reference: Mapped[str | None] = mapped_column(String(200))
    pickup_site_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("sites.id", ondelete="SET NULL")
    )
    pickup_location: Mapped[WKBElement | WKTElement] = mapped_column(
        Geometry("POINT", srid=4326, spatial_index=False), nullable=False
    )
    dropoff_location: Mapped[WKBElement | WKTElement] = mapped_column(
        Geometry("POINT", srid=4326, spatial_index=False), nullable=False
    )
    dropoff_address: Mapped[str | None] = mapped_column(Text)
    parcels: Mapped[int] = mapped_column(Integer, nullable=False)
    weight_kg: Mapped[float] = mapped_column(Float, nullable=False)
    volume_m3: Mapped[float] = mapped_column(Float, nullable=False)
    deliver_from: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    deliver_until: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    price_excl_vat: Mapped[float] = mapped_column(Numeric(12, 4, asdecimal=False))
    price_incl_vat: Mapped[float] = mapped_column(Numeric(12, 4, asdecimal=False))
    vat_rate: Mapped[float] = mapped_column(Numeric(5, 4, asdecimal=False), nullable=False)
    co2e_g: Mapped[float] = mapped_column(Float, nullable=False)
    van_co2e_g: Mapped[float] = mapped_column(Float, nullable=False)
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class District(Base):
    """A shopping district: the outline of a cluster of shopfronts of the OSM extract, named
    after the street most of them lie on (reference data, app.districts.loader)."""

    __tablename__ = "districts"

    id: Mapped[uuid.UUID] = _uuid_pk()
    # Made from the name, so that it stays the same each time the extract is loaded.
    slug: Mapped[str] = mapped_column(String(120), nullable=False, unique=True)
    name: Mapped[str] = mapped_column(Text, nullable=False)
    name_fr: Mapped[str | None] = mapped_column(Text)
    name_nl: Mapped[str | None] = mapped_column(Text)
    commune: Mapped[str] = mapped_column(ForeignKey("communes.nis_code"), nullable=False)
    geom: Mapped[WKBElement] = mapped_column(
        Geometry("MULTIPOLYGON", srid=4326, spatial_index=False), nullable=False
    )
    shop_count: Mapped[int] = mapped_column(Integer, nullable=False)
    shopfront_count: Mapped[int] = mapped_column(Integer, nullable=False)
    area_m2: Mapped[float] = mapped_column(Float, nullable=False)
    source: Mapped[str] = mapped_column(String(10), nullable=False, default="osm")


# The address geocoder (migration 0028): the streets and house numbers of the OSM extract,
# written by its loader (app.geocoding.loader, as the owner) and only read by the service.


class GeocodingStreet(Base):
    """One street of one postcode and commune: its ways merged, its names in both languages."""

    __tablename__ = "streets"
    __table_args__ = ({"schema": "geocoding"},)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(Text, nullable=False)
    name_fr: Mapped[str | None] = mapped_column(Text)
    name_nl: Mapped[str | None] = mapped_column(Text)
    postcode: Mapped[str | None] = mapped_column(String(4))
    commune: Mapped[str | None] = mapped_column(String(5), ForeignKey("communes.nis_code"))
    geom: Mapped[WKBElement] = mapped_column(
        Geometry("MULTILINESTRING", srid=4326, spatial_index=False), nullable=False
    )
    # The point of the street nearest its middle: where a street-precision answer points.
    point: Mapped[WKBElement] = mapped_column(
        Geometry("POINT", srid=4326, spatial_index=False), nullable=False
    )


class GeocodingStreetName(Base):
    """One spelling of a street, searched by its normalised form's trigrams."""

    __tablename__ = "street_names"
    __table_args__ = ({"schema": "geocoding"},)

    street_id: Mapped[int] = mapped_column(
        ForeignKey("geocoding.streets.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(Text, primary_key=True)
    # fr or nl; None when the spelling is the street's only name, or the same in both.
    language: Mapped[str | None] = mapped_column(String(2))
    search: Mapped[str] = mapped_column(Text, Computed("geocoding.normalised(name)"))


class GeocodingAddress(Base):
    """One door: a house number on a street, from a node or a building of the extract."""

    __tablename__ = "addresses"
    __table_args__ = ({"schema": "geocoding"},)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    street_id: Mapped[int] = mapped_column(
        ForeignKey("geocoding.streets.id", ondelete="CASCADE"), nullable=False
    )
    housenumber: Mapped[str] = mapped_column(Text, nullable=False)  # as tagged: "63-67"
    number_key: Mapped[str] = mapped_column(Text, nullable=False)  # one door of it: "65"
    postcode: Mapped[str | None] = mapped_column(String(4))
    osm_type: Mapped[str] = mapped_column(String(8), nullable=False)
    osm_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    geom: Mapped[WKBElement] = mapped_column(
        Geometry("POINT", srid=4326, spatial_index=False), nullable=False
    )


class GeocodingPostcode(Base):
    """A postcode of the streets, with its commune and a point on its streets."""

    __tablename__ = "postcodes"
    __table_args__ = ({"schema": "geocoding"},)

    postcode: Mapped[str] = mapped_column(String(4), primary_key=True)
    commune: Mapped[str | None] = mapped_column(String(5), ForeignKey("communes.nis_code"))
    point: Mapped[WKBElement] = mapped_column(
        Geometry("POINT", srid=4326, spatial_index=False), nullable=False
    )


class ShopConnection(OrganizationRow, Base):
    """A shop's web shop (WooCommerce, Shopify, PrestaShop) that sends its orders to be booked
    into shared delivery rounds."""

    __tablename__ = "shop_connections"

    platform: Mapped[str] = mapped_column(String(20), nullable=False)
    pickup_site_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("sites.id", ondelete="CASCADE"), nullable=False
    )
    shop_domain: Mapped[str | None] = mapped_column(String(255))
    # Kept as it is, like a webhook subscription's: checking the platform's HMAC needs it.
    secret: Mapped[str] = mapped_column(Text, nullable=False)
    default_weight_kg: Mapped[float] = mapped_column(Float, nullable=False)
    default_volume_m3: Mapped[float] = mapped_column(Float, nullable=False)


class ShopOrder(OrganizationRow, Base):
    """An order a web shop sent: booked, or held with the reason until the shop fixes it."""

    __tablename__ = "shop_orders"

    connection_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("shop_connections.id", ondelete="CASCADE"), nullable=False
    )
    platform_order_id: Mapped[str] = mapped_column(String(64), nullable=False)
    reference: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), nullable=False)
    reason: Mapped[str | None] = mapped_column(Text)
    asked: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    delivery_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("deliveries.id", ondelete="SET NULL")
    )


class ShopWebhookReceipt(Base):
    """A platform's webhook delivery taken, so that the same delivery sent again is not."""

    __tablename__ = "shop_webhook_receipts"

    connection_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("shop_connections.id", ondelete="CASCADE"), primary_key=True
    )
    delivery_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, default=_now
    )
