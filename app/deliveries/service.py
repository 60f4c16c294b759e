"""Shared delivery rounds: a carrier publishes a delivery service; a shop asks for a quote, books
one of its options (or asks and books at once) and may cancel until the slot's cut-off. A
booking holds its slot's row while it fits the delivery into the round as booked so far, so two
shops racing for the last room of a slot get one booking and one 409 with the options left."""

import json
import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from geoalchemy2 import Geometry
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.deliveries import repository
from app.deliveries.cutoff import plan_slot
from app.deliveries.quoting import (
    Placed,
    asked_in_slot,
    delivery_options,
    fit_in_slot,
    option_slot,
)
from app.deliveries.rounds import booked_as, without
from app.deliveries.schemas import (
    DeliveryAsk,
    DeliveryCreate,
    DeliveryServiceCreate,
    QuoteOption,
)
from app.deliveries.slots import stored_slot
from app.fleet.service import own_vehicles
from app.geocoding.service import geocode
from app.kit.field_checks import FieldChecks
from app.kit.geo import PointIn, locate
from app.kit.local_time import BRUSSELS
from app.kit.pagination import PageParams
from app.kit.principal import Principal
from app.kit.problems import Conflict, FieldError, NotFound, ValidationFailed
from app.models import Delivery, DeliveryQuote, DeliveryService, DeliverySlot, Site
from app.settings import Settings
from app.sites.service import place_of
from app.webhooks.outbox import emit
from app.webhooks.schemas import EventType

CARRIER = "carrier"
SHOP = "shop"
# How long a quote's options hold: long enough to fill in a checkout.
QUOTE_TTL = timedelta(minutes=15)
_ZONE_VALIDITY = text(
    "SELECT ST_IsValid(g) AS valid, ST_IsValidReason(g) AS reason"
    " FROM (SELECT ST_GeomFromGeoJSON(:zone) AS g) given"
)
_KNOWN_DISTRICTS = text("SELECT slug FROM districts WHERE slug = ANY(:slugs)")
# The service's zone: its own outline and its districts' as one.
_ZONE = text(
    """SELECT ST_Multi(ST_CollectionExtract(ST_Union(g), 3)) AS zone
         FROM (SELECT geom AS g FROM districts WHERE slug = ANY(:slugs)
               UNION ALL
               SELECT ST_SetSRID(ST_GeomFromGeoJSON(CAST(:zone AS text)), 4326)
                WHERE CAST(:zone AS text) IS NOT NULL) parts"""
).columns(zone=Geometry("MULTIPOLYGON", srid=4326))


async def _service_zone(session: AsyncSession, data: DeliveryServiceCreate) -> Any:
    """The zone of a service: its own outline (a valid polygon) and the districts it names."""
    own = None if data.zone is None else data.zone.model_dump_json()
    checks = FieldChecks()
    if own is not None:
        validity = (await session.execute(_ZONE_VALIDITY, {"zone": own})).one()
        if not validity.valid:
            checks.errors.append(
                FieldError(
                    "zone", "valid_polygon", f"The zone is not a valid polygon: {validity.reason}."
                )
            )
    known = set((await session.scalars(_KNOWN_DISTRICTS, {"slugs": data.districts})).all())
    for k, slug in enumerate(data.districts):
        if slug not in known:
            checks.errors.append(
                FieldError(
                    f"districts.{k}",
                    "known_district",
                    f"No district {slug!r}: see GET /v1/districts.",
                )
            )
    checks.raise_failures()
    return (await session.execute(_ZONE, {"slugs": data.districts, "zone": own})).scalar_one()


def _now() -> datetime:
    return datetime.now(UTC)


async def publish_service(
    session: AsyncSession, principal: Principal, data: DeliveryServiceCreate
) -> DeliveryService:
    principal.require_role(CARRIER)
    hub = await session.get(Site, data.hub_site_id)
    if hub is None or hub.organization_id != principal.organization_id or hub.kind != "hub":
        raise ValidationFailed.field(
            "hub_site_id",
            "own_hub",
            f"No site of kind hub {data.hub_site_id} in your organization.",
        )
    vehicles = await own_vehicles(session, principal, data.vehicle_ids)
    zone = await _service_zone(session, data)
    service = DeliveryService(
        id=uuid.uuid4(),
        organization_id=principal.organization_id,
        name=data.name,
        hub_site_id=hub.id,
        zone=zone,
        district_slugs=data.districts,
        weekdays=data.weekdays,
        slots=[stored_slot(s.start, s.end, s.cutoff_before) for s in data.slots],
        vehicle_ids=[v.id for v in vehicles],
        price_per_delivery=data.prices.per_delivery_eur,
        price_per_kg=data.prices.per_kg_eur,
        included_kg=data.prices.included_kg,
        vat_rate=data.prices.vat_rate,
        max_parcel_kg=data.max_parcel_kg,
        max_parcel_m3=data.max_parcel_m3,
        active=True,
    )
    session.add(service)
    await session.flush()
    return service


async def list_services(
    session: AsyncSession, principal: Principal, page: PageParams
) -> list[DeliveryService]:
    return await repository.SERVICES.page(session, principal, page)


async def get_service(
    session: AsyncSession, principal: Principal, service_id: uuid.UUID
) -> DeliveryService:
    return await repository.SERVICES.readable(session, principal, service_id)


async def service_slots(
    session: AsyncSession, principal: Principal, service_id: uuid.UUID, first: date, days: int
) -> list[tuple[DeliverySlot, list[Delivery]]]:
    """The slots of one of the carrier's services on `days` days from `first` (Brussels
    dates), with their deliveries."""
    service = await repository.SERVICES.readable(session, principal, service_id)
    start = datetime.combine(first, time(0), BRUSSELS)
    return await repository.slots_between(session, service.id, start, start + timedelta(days=days))


async def close_slot(
    session: AsyncSession,
    settings: Settings,
    principal: Principal,
    service_id: uuid.UUID,
    slot_id: uuid.UUID,
) -> tuple[DeliverySlot, list[Delivery]]:
    """The carrier's cut-off now rather than at the slot's time (a full slot, a rider ready):
    bookings close and the rounds are planned; a slot already closed is answered as it is."""
    service = await repository.SERVICES.readable(session, principal, service_id)
    slot = await repository.locked_slot_by_id(session, slot_id)
    if slot.service_id != service.id:
        raise NotFound(f"No slot {slot_id} in this service.")
    if slot.status == "open":
        slot.cutoff_at = min(slot.cutoff_at, _now())
        await plan_slot(session, settings, slot)
        await session.flush()
    [(found, deliveries)] = await repository.slots_between(
        session, service.id, slot.starts_at, slot.starts_at + timedelta(seconds=1)
    )
    return found, deliveries


async def _placed(
    session: AsyncSession, settings: Settings, principal: Principal, ask: DeliveryAsk
) -> Placed:
    pickup = await place_of(
        session, settings, principal, ask.pickup_site_id, ask.pickup, "pickup_site_id", "pickup"
    )
    door = ask.dropoff or await _door_of(session, ask.dropoff_address or "")
    field = "dropoff" if ask.dropoff is not None else "dropoff_address"
    dropoff = await locate(session, door, settings.service_area_buffer_km, field)
    return Placed(pickup, dropoff)


async def _door_of(session: AsyncSession, address: str) -> PointIn:
    """The customer's door from the address alone: the geocoder's point, when it knows the
    street at least."""
    found = await geocode(session, address, field="dropoff_address", location="body")
    if found.match is None or found.needs_attention:
        meant = "; ".join(place.label for place in found.suggestions[:3])
        raise ValidationFailed.field(
            "dropoff_address",
            "address_not_found",
            f"No Brussels street matches {address!r}"
            + (f": did you mean {meant}?" if meant else ".")
            + " Give the street and number, or a dropoff point.",
        )
    return PointIn(type="Point", coordinates=found.match.point.coordinates)


async def quote(
    session: AsyncSession, settings: Settings, principal: Principal, ask: DeliveryAsk
) -> DeliveryQuote:
    """The options of a delivery, kept for `QUOTE_TTL` to be booked."""
    principal.require_role(SHOP)
    placed = await _placed(session, settings, principal, ask)
    now = _now()
    options = await delivery_options(session, ask, placed, now)
    row = DeliveryQuote(
        id=uuid.uuid4(),
        organization_id=principal.organization_id,
        asked=json.loads(ask.model_dump_json()),
        options=[json.loads(o.model_dump_json()) for o in options],
        expires_at=now + QUOTE_TTL,
    )
    session.add(row)
    await session.flush()
    return row


async def _quoted_option(
    session: AsyncSession, principal: Principal, quote_id: uuid.UUID, option_id: str
) -> tuple[DeliveryAsk, QuoteOption, uuid.UUID]:
    row = await repository.QUOTES.readable(session, principal, quote_id)
    if row.expires_at <= _now():
        raise Conflict(
            "This quote has expired: ask for a new one.", rule="quote_expired", quote_id=str(row.id)
        )
    for option in row.options:
        if option["id"] == option_id:
            return (
                DeliveryAsk.model_validate(row.asked),
                QuoteOption.model_validate(option),
                row.id,
            )
    raise ValidationFailed.field(
        "option_id", "option_of_the_quote", f"The quote has no option {option_id!r}."
    )


async def book(
    session: AsyncSession, settings: Settings, principal: Principal, data: DeliveryCreate
) -> Delivery:
    """The delivery booked into the option's slot (or the first option that fits its ask), at
    the option's price; 409 with the options left when the slot filled up meanwhile."""
    principal.require_role(SHOP)
    quote_id: uuid.UUID | None = None
    if data.quote_id is not None and data.option_id is not None:
        ask, option, quote_id = await _quoted_option(
            session, principal, data.quote_id, data.option_id
        )
        tried = [option]
    else:
        assert data.ask is not None
        ask = data.ask
        tried = []
    placed = await _placed(session, settings, principal, ask)
    if not tried:
        tried = await delivery_options(session, ask, placed, _now())
    for option in tried:
        booked = await _book_option(
            session, principal, ask, placed, option, quote_id, data.reference
        )
        if booked is not None:
            return booked
    raise Conflict(
        "The slot filled up since the quote: nothing was booked. The options below fit now.",
        rule="slot_full",
        options=[
            json.loads(o.model_dump_json()) for o in await _options_left(session, ask, placed)
        ],
    )


async def _options_left(
    session: AsyncSession, ask: DeliveryAsk, placed: Placed
) -> list[QuoteOption]:
    try:
        return await delivery_options(session, ask, placed, _now())
    except (Conflict, ValidationFailed):
        return []


async def _book_option(
    session: AsyncSession,
    principal: Principal,
    ask: DeliveryAsk,
    placed: Placed,
    option: QuoteOption,
    quote_id: uuid.UUID | None,
    reference: str | None,
) -> Delivery | None:
    service = await session.get(DeliveryService, option.service_id)
    if service is None or not service.active:
        return None
    slot_time = option_slot(option)
    slot = await repository.locked_slot(session, service.id, slot_time)
    if slot.status != "open" or slot.cutoff_at <= _now():
        return None
    asked = asked_in_slot(ask, placed, slot_time)
    if asked is None:
        return None
    fleet = await repository.service_fleet(session, service)
    fit = await fit_in_slot(session, fleet, slot_time, slot, asked)
    if fit is None:
        return None
    delivery = Delivery(
        id=uuid.uuid4(),
        organization_id=principal.organization_id,
        service_id=service.id,
        slot_id=slot.id,
        quote_id=quote_id,
        status="booked",
        reference=reference,
        pickup_site_id=ask.pickup_site_id,
        pickup_location=placed.pickup,
        dropoff_location=placed.dropoff,
        dropoff_address=ask.dropoff_address,
        parcels=ask.parcels.count,
        weight_kg=ask.parcels.weight_kg,
        volume_m3=ask.parcels.volume_m3,
        deliver_from=asked.deliver_from,
        deliver_until=asked.deliver_until,
        price_excl_vat=option.price_excl_vat,
        price_incl_vat=option.price_incl_vat,
        vat_rate=service.vat_rate,
        co2e_g=option.co2e_g,
        van_co2e_g=option.van_co2e_g,
    )
    session.add(delivery)
    slot.plan = booked_as(fit.plan, str(delivery.id))
    await session.flush()
    await emit(
        session,
        {principal.organization_id},
        EventType.delivery_booked.value,
        {"delivery_id": str(delivery.id), "slot_starts_at": slot.starts_at.isoformat()},
        fact=[delivery.id],
    )
    return delivery


async def list_deliveries(
    session: AsyncSession, principal: Principal, page: PageParams
) -> list[Delivery]:
    return await repository.DELIVERIES.page(session, principal, page)


async def get_delivery(
    session: AsyncSession, principal: Principal, delivery_id: uuid.UUID
) -> Delivery:
    return await repository.DELIVERIES.readable(session, principal, delivery_id)


async def cancel(session: AsyncSession, principal: Principal, delivery_id: uuid.UUID) -> Delivery:
    """Cancels a booked delivery until its slot's cut-off; cancelling it again changes nothing."""
    delivery = await repository.DELIVERIES.writable(session, principal, delivery_id)
    if delivery.status == "cancelled":
        return delivery
    slot = await repository.locked_slot_by_id(session, delivery.slot_id)
    if delivery.status != "booked" or slot.cutoff_at <= _now():
        raise Conflict(
            "Past the slot's cut-off the round is planned: ask the carrier.",
            rule="past_cutoff",
            cutoff_at=slot.cutoff_at.isoformat(),
        )
    slot.plan = without(slot.plan, str(delivery.id))
    delivery.status = "cancelled"
    delivery.cancelled_at = _now()
    await repository.DELIVERIES.flush(session)
    await emit(
        session,
        {principal.organization_id},
        EventType.delivery_cancelled.value,
        {"delivery_id": str(delivery.id)},
        fact=[delivery.id],
    )
    return delivery
