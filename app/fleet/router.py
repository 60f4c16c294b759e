import uuid

from fastapi import APIRouter, Response, status

from app.auth import CurrentPrincipal
from app.dependencies import AppSettings, Session
from app.errors import PROBLEM_RESPONSES
from app.fleet import service
from app.fleet.schemas import Vehicle, VehicleCreate, VehiclePage
from app.kit.idempotency import IdempotencyKey
from app.models import Vehicle as VehicleRow

router = APIRouter(prefix="/v1/vehicles", tags=["logistics"], responses=PROBLEM_RESPONSES)


def _vehicle(row: VehicleRow) -> Vehicle:
    return Vehicle.model_validate(row, from_attributes=True)


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
    return _vehicle(row)


@router.get("", summary="Your fleet")
async def list_vehicles(principal: CurrentPrincipal, session: Session) -> VehiclePage:
    return VehiclePage(items=[_vehicle(v) for v in await service.list_vehicles(session, principal)])


@router.get("/{vehicle_id}", summary="One of your vehicles")
async def read_vehicle(
    vehicle_id: uuid.UUID, principal: CurrentPrincipal, session: Session
) -> Vehicle:
    return _vehicle(await service.get_vehicle(session, principal, vehicle_id))
