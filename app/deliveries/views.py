"""Rows of shared delivery rounds as the API shows them."""

import uuid
from datetime import time, timedelta

from app.deliveries.schemas import (
    DeliveryService,
    DeliveryStatus,
    Parcels,
    PriceList,
    Quote,
    QuoteOption,
    ServiceSlot,
    ShopDelivery,
    Slot,
    SlotDelivery,
)
from app.kit.geo import Point
from app.models import Delivery as DeliveryRow
from app.models import DeliveryQuote, DeliverySlot
from app.models import DeliveryService as DeliveryServiceRow


def service_view(row: DeliveryServiceRow) -> DeliveryService:
    return DeliveryService(
        id=row.id,
        organization_id=row.organization_id,
        name=row.name,
        hub_site_id=row.hub_site_id,
        districts=row.district_slugs,
        weekdays=row.weekdays,
        slots=[
            Slot(
                start=time.fromisoformat(s["start"]),
                end=time.fromisoformat(s["end"]),
                cutoff_before=timedelta(seconds=s["cutoff_before_s"]),
            )
            for s in row.slots
        ],
        vehicle_ids=row.vehicle_ids,
        prices=PriceList(
            per_delivery_eur=row.price_per_delivery,
            per_kg_eur=row.price_per_kg,
            included_kg=row.included_kg,
            vat_rate=row.vat_rate,
        ),
        max_parcel_kg=row.max_parcel_kg,
        max_parcel_m3=row.max_parcel_m3,
        active=row.active,
        created_at=row.created_at,
    )


def quote_view(row: DeliveryQuote) -> Quote:
    return Quote(
        id=row.id,
        options=[QuoteOption.model_validate(o) for o in row.options],
        expires_at=row.expires_at,
        created_at=row.created_at,
    )


def delivery_view(row: DeliveryRow, slot: DeliverySlot) -> ShopDelivery:
    return ShopDelivery(
        id=row.id,
        status=DeliveryStatus(row.status),
        reference=row.reference,
        service_id=row.service_id,
        slot_starts_at=slot.starts_at,
        slot_ends_at=slot.ends_at,
        cutoff_at=slot.cutoff_at,
        pickup=Point.model_validate(row.pickup_location),
        dropoff=Point.model_validate(row.dropoff_location),
        dropoff_address=row.dropoff_address,
        parcels=Parcels(count=row.parcels, weight_kg=row.weight_kg, volume_m3=row.volume_m3),
        deliver_from=row.deliver_from,
        deliver_until=row.deliver_until,
        price_excl_vat=row.price_excl_vat,
        price_incl_vat=row.price_incl_vat,
        vat_rate=row.vat_rate,
        co2e_g=row.co2e_g,
        van_co2e_g=row.van_co2e_g,
        created_at=row.created_at,
        cancelled_at=row.cancelled_at,
    )


def service_slot_view(slot: DeliverySlot, deliveries: list[DeliveryRow]) -> ServiceSlot:
    return ServiceSlot(
        id=slot.id,
        starts_at=slot.starts_at,
        ends_at=slot.ends_at,
        cutoff_at=slot.cutoff_at,
        status=slot.status,
        route_plan_id=slot.route_plan_id,
        rounds={
            vehicle: [(kind, uuid.UUID(delivery)) for kind, delivery in stops]
            for vehicle, stops in slot.plan.items()
        },
        deliveries=[
            SlotDelivery(
                id=d.id,
                shop_organization_id=d.organization_id,
                status=DeliveryStatus(d.status),
                reference=d.reference,
                pickup=Point.model_validate(d.pickup_location),
                dropoff=Point.model_validate(d.dropoff_location),
                dropoff_address=d.dropoff_address,
                parcels=Parcels(count=d.parcels, weight_kg=d.weight_kg, volume_m3=d.volume_m3),
                deliver_from=d.deliver_from,
                deliver_until=d.deliver_until,
            )
            for d in deliveries
        ],
    )
