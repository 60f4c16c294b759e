import uuid

from fastapi import APIRouter, Request, Response, status

from app.auth import CurrentPrincipal
from app.fleet import service
from app.fleet.schemas import Vehicle, VehicleCreate, VehiclePage, VehiclePatch, vehicle_view
from app.gateway.idempotency import IdempotencyKey
from app.kit.etag import IfMatch
from app.kit.owned import answer
from app.kit.pagination import Page, creation_key, page_links
from app.kit.problem_docs import AUTHENTICATED, WRITE, problems
from app.kit.request_session import Session
from app.settings import AppSettings

router = APIRouter(prefix="/v1/vehicles", tags=["logistics"])

_NOT_YOURS = "No vehicle of yours has this id (another organization's answers so too)"
_PLANS_KEEP_THEIR_COPY = (
    "A route plan copies the vehicles it uses when it is asked for: the plans already asked "
    "for, queued, running or done, keep the vehicle as it was."
)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    dependencies=[IdempotencyKey],
    summary="Register a vehicle (role carrier or hub_operator)",
    description="Adds a vehicle to your fleet, for route plans to name in `vehicle_ids`. The "
    "fields left out take the defaults of its type (a cargo bike carries 150 kg at 15 km/h, a "
    "van 1000 kg, ...). Answers 201 with the vehicle, its `Location` and its `ETag`; 422 names "
    "each field that breaks a rule, a start or end site that is not yours too.",
    responses=problems(*AUTHENTICATED, *WRITE, 403),
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
    return answer(response, row, vehicle_view)


@router.get(
    "",
    summary="Your fleet, oldest first",
    description="Your organization's vehicles, oldest first, a page at a time: follow the "
    "`next` link while there is one. Other organizations' vehicles are never listed.",
    responses=problems(*AUTHENTICATED, 422),
)
async def list_vehicles(
    request: Request, principal: CurrentPrincipal, session: Session, page: Page
) -> VehiclePage:
    rows = await service.list_vehicles(session, principal, page)
    return VehiclePage(
        items=[vehicle_view(v) for v in rows], links=page_links(request, page, rows, creation_key)
    )


@router.get(
    "/{vehicle_id}",
    summary="One of your vehicles",
    description="The vehicle with its `ETag`, to send as `If-Match` with a PATCH or DELETE. "
    "Another organization's vehicle answers 404, as a missing one does.",
    responses=problems(*AUTHENTICATED, 404, 422, says={404: _NOT_YOURS}),
)
async def read_vehicle(
    vehicle_id: uuid.UUID, principal: CurrentPrincipal, session: Session, response: Response
) -> Vehicle:
    return answer(response, await service.get_vehicle(session, principal, vehicle_id), vehicle_view)


@router.patch(
    "/{vehicle_id}",
    summary="Change one of your vehicles (send `If-Match` with its ETag)",
    description="Changes the fields sent; the vehicle after the change follows the rules of a "
    "create, and a patch that breaks one answers 422 and changes nothing. A field set to null "
    "takes its type's default; a new `type` resets the fields its type gives by default "
    "unless the patch gives them too. With `If-Match` (the ETag of the GET), a vehicle changed "
    f"since answers 412. Answers the vehicle and its new `ETag`. {_PLANS_KEEP_THEIR_COPY}",
    responses=problems(*AUTHENTICATED, 400, 404, 412, 413, 422, says={404: _NOT_YOURS}),
)
async def update_vehicle(
    vehicle_id: uuid.UUID,
    patch: VehiclePatch,
    principal: CurrentPrincipal,
    session: Session,
    settings: AppSettings,
    response: Response,
    if_match: IfMatch = None,
) -> Vehicle:
    row = await service.update_vehicle(session, settings, principal, vehicle_id, patch, if_match)
    return answer(response, row, vehicle_view)


@router.delete(
    "/{vehicle_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Remove one of your vehicles",
    description="Removes the vehicle from your fleet: 204, and new route plans can no longer "
    "name it. With `If-Match`, a vehicle changed since that read answers 412 and stays. "
    f"{_PLANS_KEEP_THEIR_COPY} Their results still name its id.",
    responses=problems(*AUTHENTICATED, 404, 412, 422, says={404: _NOT_YOURS}),
)
async def delete_vehicle(
    vehicle_id: uuid.UUID, principal: CurrentPrincipal, session: Session, if_match: IfMatch = None
) -> None:
    await service.delete_vehicle(session, principal, vehicle_id, if_match)
