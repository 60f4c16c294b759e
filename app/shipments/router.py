import uuid

from fastapi import APIRouter, Response, status

from app.auth import CurrentPrincipal
from app.dependencies import AppSettings, Session
from app.errors import PROBLEM_RESPONSES
from app.kit.idempotency import IdempotencyKey
from app.shipments import service
from app.shipments.schemas import Shipment, ShipmentCreate, ShipmentPage

router = APIRouter(prefix="/v1/shipments", tags=["logistics"], responses=PROBLEM_RESPONSES)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    dependencies=[IdempotencyKey],
    summary="Post a transport job",
)
async def create_shipment(
    data: ShipmentCreate,
    principal: CurrentPrincipal,
    session: Session,
    settings: AppSettings,
    response: Response,
) -> Shipment:
    row = await service.create_shipment(session, settings, principal, data)
    response.headers["Location"] = f"/v1/shipments/{row.id}"
    return service.shipment_view(row)


@router.get("", summary="Your shipments")
async def list_shipments(principal: CurrentPrincipal, session: Session) -> ShipmentPage:
    return ShipmentPage(
        items=[service.shipment_view(s) for s in await service.list_shipments(session, principal)]
    )


@router.get("/{shipment_id}", summary="One of your shipments")
async def read_shipment(
    shipment_id: uuid.UUID, principal: CurrentPrincipal, session: Session
) -> Shipment:
    return service.shipment_view(await service.get_shipment(session, principal, shipment_id))
