import uuid
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status

from app.auth import CurrentPrincipal
from app.gateway.idempotency import IdempotencyKey
from app.kit.etag import IfMatch, set_etag
from app.kit.geo import GeoJSONResponse, feature_page
from app.kit.pagination import Page
from app.kit.problem_docs import AUTHENTICATED, WRITE, problems
from app.kit.request_session import Session
from app.kit.spatial import Near
from app.listings import create_listing, delete_listing, get_listing, update_listing
from app.models import MaterialRequest as MaterialRequestRow
from app.requests.schemas import (
    MaterialRequest,
    MaterialRequestPublic,
    RequestCreate,
    RequestFeatureCollection,
    RequestStatus,
    RequestUpdate,
    request_feature,
    request_view,
)
from app.requests.service import REQUESTS
from app.requests.service import list_requests as list_request_rows
from app.settings import AppSettings

router = APIRouter(prefix="/v1/requests", tags=["requests"])
_NO_REQUEST = {404: "No request with this id."}
_HELD = {
    409: "Matches still hold part of it: a quantity below what they reserved, a unit change, "
    "a delete."
}


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
    description="Posts a request of your organization, delivered at one of your sites or at "
    "a point, and answers 201 with it, its `ETag` and its `Location`; its candidates are at "
    "/v1/requests/{id}/candidates. An organization without the consumer or hub_operator role "
    "answers 403; a material not in the EWC list or a window that ends before it starts "
    "answer 422, each field named.",
    responses=problems(*AUTHENTICATED, *WRITE, 403),
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
    response_model=RequestFeatureCollection,
    summary="Requests of every organization as GeoJSON, nearest first when `near` is given",
    description="Everyone's requests as a GeoJSON FeatureCollection (`application/geo+json`): "
    "another organization's with their public fields, yours with all of them. Oldest first, "
    "or nearest first with `near=lon,lat` (and within `radius_km` when given), each with its "
    "`distance_m`. A full page has a `next` link. A `near` given as lat,lon answers 422 "
    "`lon_lat_order`, with the order meant.",
    responses=problems(*AUTHENTICATED, 422),
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
    status: Annotated[
        RequestStatus | None, Query(description="Only requests in this status.")
    ] = None,
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
    viewer = principal.organization_id
    return feature_page(
        request,
        rows,
        page,
        lambda row, distance_m: request_feature(row, viewer, distance_m),
        RequestFeatureCollection,
    )


@router.get(
    "/{request_id}",
    response_model=MaterialRequest | MaterialRequestPublic,
    summary="One request; private fields only for its owner",
    description="The request with its `ETag`: all its fields for its organization; for "
    "anyone else its public fields, without `site_id` and `notes`.",
    responses=problems(*AUTHENTICATED, 422, says=_NO_REQUEST),
)
async def read_request(
    request_id: uuid.UUID, principal: CurrentPrincipal, session: Session, response: Response
) -> MaterialRequest | MaterialRequestPublic:
    row = await get_listing(REQUESTS, session, principal, request_id)
    return _answer(response, row, principal.organization_id)


@router.patch(
    "/{request_id}",
    response_model=MaterialRequest,
    summary="Change your request (send `If-Match` with its ETag)",
    description="Changes the fields sent; the result follows the rules of a create. Changing "
    "a term a proposal relies on (material, condition, window, place, distance, price, or "
    "closing it) expires the proposals on it, and both sides hear `match.expired`. Another "
    "organization's request answers 403; with `If-Match`, a request changed since you read "
    "it answers 412.",
    responses=problems(*AUTHENTICATED, 400, 403, 412, 413, 422, says={**_NO_REQUEST, **_HELD}),
)
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
    "/{request_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Withdraw your request",
    description="Deletes your request; 204 on success. A request that matches name answers "
    "409: close it (`status: closed`) instead. Another organization's request answers 403.",
    responses=problems(*AUTHENTICATED, 403, 412, 422, says={**_NO_REQUEST, **_HELD}),
)
async def delete_request(
    request_id: uuid.UUID, principal: CurrentPrincipal, session: Session, if_match: IfMatch = None
) -> None:
    await delete_listing(REQUESTS, session, principal, request_id, if_match)
