import uuid

from fastapi import APIRouter, Request, Response, status

from app.auth import CurrentPrincipal
from app.dependencies import AppSettings, Session
from app.errors import PROBLEM_RESPONSES
from app.fleet import service
from app.fleet.schemas import Vehicle, VehicleCreate, VehiclePage
from app.kit.etag import set_etag
from app.kit.idempotency import IdempotencyKey
from app.kit.pagination import Page, creation_key, page_links
from app.models import Vehicle as VehicleRow

router = APIRouter(
    prefix="/v1/vehicles",
    tags=["logistics"],
    responses=PROBLEM_RESPONSES,
)


def _vehicle(row: VehicleRow) -> Vehicle:
    return Vehicle.model_validate(row, from_attributes=True)


def _answer(response: Response, row: VehicleRow) -> Vehicle:
    set_etag(response, row.version)
    return _vehicle(row)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    dependencies=[IdempotencyKey],
    summary="Register a vehicle (role carrier or hub_operator)",
)
async def create_vehicle(
    data: VehicleCreate,
    principal: CurrentPrincipal,
    session: Session,
    settings: AppSettings,
    response: Response,
) -> Vehicle:
    row = await service.create_vehicle(session, settings, principal, data)
    response.headers["Location"] = f"/v1/vehicles/{row.id}"
    return _answer(response, row)


@router.get("", summary="Your fleet, oldest first")
async def list_vehicles(
    request: Request, principal: CurrentPrincipal, session: Session, page: Page
) -> VehiclePage:
    rows = await service.list_vehicles(session, principal, page)
    return VehiclePage(
        items=[_vehicle(v) for v in rows], links=page_links(request, page, rows, creation_key)
    )


@router.get("/{vehicle_id}", summary="One of your vehicles")
async def read_vehicle(
    vehicle_id: uuid.UUID, principal: CurrentPrincipal, session: Session, response: Response
) -> Vehicle:
    return _answer(response, await service.get_vehicle(session, principal, vehicle_id))
