import uuid
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import CurrentPrincipal
from app.db import get_session
from app.kit.etag import IfMatch, set_etag
from app.kit.geo import GEOJSON_MEDIA_TYPE, FeatureCollection, GeoJSONResponse, feature_collection
from app.kit.pagination import Page, next_links
from app.kit.spatial import parse_near, sort_key
from app.models import Offer as OfferRow
from app.offers import service
from app.offers.schemas import Offer, OfferCreate, OfferPublic, OfferStatus, OfferUpdate, offer_view
from app.settings import Settings, get_settings

router = APIRouter(prefix="/v1/offers", tags=["offers"])
Session = Annotated[AsyncSession, Depends(get_session)]
AppSettings = Annotated[Settings, Depends(get_settings)]


def _answer(response: Response, row: OfferRow, viewer: uuid.UUID) -> Offer | OfferPublic:
    set_etag(response, row.version)
    return offer_view(row, viewer)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Offer material (role supplier or hub_operator)",
)
async def create_offer(
    data: OfferCreate,
    principal: CurrentPrincipal,
    session: Session,
    settings: AppSettings,
    response: Response,
) -> Offer:
    row = await service.create_offer(session, settings, principal, data)
    response.headers["Location"] = f"/v1/offers/{row.id}"
    set_etag(response, row.version)
    return Offer.model_validate(offer_view(row, principal.organization_id).model_dump())


@router.get(
    "",
    response_class=GeoJSONResponse,
    responses={
        200: {"content": {GEOJSON_MEDIA_TYPE: {"schema": FeatureCollection.model_json_schema()}}}
    },
    summary="Offers of every organization as GeoJSON, nearest first when `near` is given",
)
async def list_offers(
    request: Request,
    principal: CurrentPrincipal,
    session: Session,
    page: Page,
    near: Annotated[
        str | None, Query(description="lon,lat in WGS84: order by distance from it.")
    ] = None,
    radius_km: Annotated[
        float | None, Query(gt=0, le=500, description="Only within this distance of `near`.")
    ] = None,
    material: Annotated[
        str | None, Query(description="An EWC code, sub-chapter (4 digits) or chapter (2 digits).")
    ] = None,
    available_on: Annotated[
        date | None, Query(description="Only offers available on this day.")
    ] = None,
    status: OfferStatus | None = None,
    mine: Annotated[bool, Query(description="Only your organization's offers.")] = False,
) -> GeoJSONResponse:
    rows = await service.list_offers(
        session,
        principal,
        page,
        near=parse_near(near, radius_km),
        radius_km=radius_km,
        material=material,
        available_on=available_on,
        status=status,
        mine=mine,
    )
    last = sort_key(*rows[-1]) if len(rows) == page.limit else None
    return feature_collection(
        [(offer_view(r, principal.organization_id), d) for r, d in rows],
        next_links(request, last, GEOJSON_MEDIA_TYPE),
    )


@router.get("/{offer_id}", summary="One offer; private fields only for its owner")
async def read_offer(
    offer_id: uuid.UUID, principal: CurrentPrincipal, session: Session, response: Response
) -> Offer | OfferPublic:
    return _answer(
        response, await service.get_offer(session, principal, offer_id), principal.organization_id
    )


@router.patch("/{offer_id}", summary="Change your offer (send `If-Match` with its ETag)")
async def update_offer(
    offer_id: uuid.UUID,
    patch: OfferUpdate,
    principal: CurrentPrincipal,
    session: Session,
    settings: AppSettings,
    response: Response,
    if_match: IfMatch = None,
) -> Offer | OfferPublic:
    row = await service.update_offer(session, settings, principal, offer_id, patch, if_match)
    return _answer(response, row, principal.organization_id)


@router.delete("/{offer_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Withdraw your offer")
async def delete_offer(
    offer_id: uuid.UUID, principal: CurrentPrincipal, session: Session, if_match: IfMatch = None
) -> None:
    await service.delete_offer(session, principal, offer_id, if_match)
