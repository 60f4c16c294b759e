import uuid
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status

from app.auth import CurrentPrincipal
from app.dependencies import AppSettings, Session
from app.errors import PROBLEM_RESPONSES
from app.kit.etag import IfMatch, set_etag
from app.kit.geo import FeatureCollection, GeoJSONResponse, feature_page
from app.kit.idempotency import IdempotencyKey
from app.kit.pagination import Page
from app.kit.spatial import Near
from app.listings import create_listing, delete_listing, get_listing, update_listing
from app.models import MaterialRequest as MaterialRequestRow
from app.requests.schemas import (
    MaterialRequest,
    MaterialRequestPublic,
    RequestCreate,
    RequestStatus,
    RequestUpdate,
    request_view,
)
from app.requests.service import REQUESTS
from app.requests.service import list_requests as list_request_rows

router = APIRouter(
    prefix="/v1/requests",
    tags=["requests"],
    responses=PROBLEM_RESPONSES,
)


def _answer(
    response: Response, row: MaterialRequestRow, viewer: uuid.UUID
) -> MaterialRequest | MaterialRequestPublic:
    set_etag(response, row.version)
    return request_view(row, viewer)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=MaterialRequest,
    dependencies=[IdempotencyKey],
    summary="Ask for material (role consumer or hub_operator)",
)
async def create_request(
    data: RequestCreate,
    principal: CurrentPrincipal,
    session: Session,
    settings: AppSettings,
    response: Response,
) -> MaterialRequest | MaterialRequestPublic:
    row = await create_listing(REQUESTS, session, settings, principal, data)
    response.headers["Location"] = f"/v1/requests/{row.id}"
    return _answer(response, row, principal.organization_id)


@router.get(
    "",
    response_class=GeoJSONResponse,
    response_model=FeatureCollection,
    summary="Requests of every organization as GeoJSON, nearest first when `near` is given",
)
async def list_requests(
    request: Request,
    principal: CurrentPrincipal,
    session: Session,
    page: Page,
    near: Near,
    material: Annotated[
        str | None,
        Query(description="An EWC code, sub-chapter or chapter: requests that would take it."),
    ] = None,
    needed_on: Annotated[
        date | None, Query(description="Only requests that need material on this day.")
    ] = None,
    status: RequestStatus | None = None,
    mine: Annotated[bool, Query(description="Only your organization's requests.")] = False,
) -> GeoJSONResponse:
    rows = await list_request_rows(
        session,
        principal,
        page,
        near=near,
        material=material,
        needed_on=needed_on,
        status=status,
        mine=mine,
    )
    return feature_page(
        request, rows, page, lambda row: request_view(row, principal.organization_id)
    )


@router.get("/{request_id}", summary="One request; private fields only for its owner")
async def read_request(
    request_id: uuid.UUID, principal: CurrentPrincipal, session: Session, response: Response
) -> MaterialRequest | MaterialRequestPublic:
    row = await get_listing(REQUESTS, session, principal, request_id)
    return _answer(response, row, principal.organization_id)


@router.patch("/{request_id}", summary="Change your request (send `If-Match` with its ETag)")
async def update_request(
    request_id: uuid.UUID,
    patch: RequestUpdate,
    principal: CurrentPrincipal,
    session: Session,
    settings: AppSettings,
    response: Response,
    if_match: IfMatch = None,
) -> MaterialRequest | MaterialRequestPublic:
    row = await update_listing(REQUESTS, session, settings, principal, request_id, patch, if_match)
    return _answer(response, row, principal.organization_id)


@router.delete(
    "/{request_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Withdraw your request"
)
async def delete_request(
    request_id: uuid.UUID, principal: CurrentPrincipal, session: Session, if_match: IfMatch = None
) -> None:
    await delete_listing(REQUESTS, session, principal, request_id, if_match)
