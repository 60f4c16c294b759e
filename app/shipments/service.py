import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import Principal
from app.kit.ownership import load_readable
from app.models import ShipmentRow
from app.settings import Settings
from app.shipments.schemas import Endpoint, Shipment, ShipmentCreate
from app.sites.service import place_of

SHIPPING_ROLES = ("carrier", "hub_operator", "supplier", "consumer")


async def create_shipment(
    session: AsyncSession, settings: Settings, principal: Principal, data: ShipmentCreate
) -> ShipmentRow:
    principal.require_role(*SHIPPING_ROLES)
    pickup = await place_of(session, settings, principal, data.pickup.site_id, data.pickup.location)
    delivery = await place_of(
        session, settings, principal, data.delivery.site_id, data.delivery.location
    )
    shipment = ShipmentRow(
        id=uuid.uuid4(),
        organization_id=principal.organization_id,
        reference=data.reference,
        pickup_location=pickup,
        pickup_from=data.pickup.window_from,
        pickup_until=data.pickup.window_until,
        pickup_service_s=data.pickup.service_s,
        delivery_location=delivery,
        delivery_from=data.delivery.window_from,
        delivery_until=data.delivery.window_until,
        delivery_service_s=data.delivery.service_s,
        load_kg=data.load_kg,
        load_m3=data.load_m3,
    )
    session.add(shipment)
    await session.commit()
    return shipment


async def list_shipments(session: AsyncSession, principal: Principal) -> list[ShipmentRow]:
    query = (
        select(ShipmentRow)
        .where(ShipmentRow.organization_id == principal.organization_id)
        .order_by(ShipmentRow.created_at)
    )
    return list((await session.scalars(query)).all())


async def get_shipment(
    session: AsyncSession, principal: Principal, shipment_id: uuid.UUID
) -> ShipmentRow:
    return await load_readable(
        session, ShipmentRow, shipment_id, principal, public=False, noun="shipment"
    )


def shipment_view(row: ShipmentRow) -> Shipment:
    def endpoint(prefix: str) -> Endpoint:
        return Endpoint.model_validate(
            {
                "location": getattr(row, f"{prefix}_location"),
                "window_from": getattr(row, f"{prefix}_from"),
                "window_until": getattr(row, f"{prefix}_until"),
                "service_s": getattr(row, f"{prefix}_service_s"),
            }
        )

    return Shipment(
        id=row.id,
        reference=row.reference,
        pickup=endpoint("pickup"),
        delivery=endpoint("delivery"),
        load_kg=row.load_kg,
        load_m3=row.load_m3,
        match_id=row.match_id,
        created_at=row.created_at,
    )
