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
from app.models import Offer as OfferRow
from app.offers.schemas import (
    Offer,
    OfferCreate,
    OfferFeatureCollection,
    OfferPublic,
    OfferStatus,
    OfferUpdate,
    offer_feature,
    offer_view,
)
from app.offers.service import OFFERS
from app.offers.service import list_offers as list_offer_rows
from app.settings import AppSettings

router = APIRouter(prefix="/v1/offers", tags=["offers"])
_NO_OFFER = {404: "No offer with this id."}
_LOCKED = {
    409: "A yard's lot offer, kept in step with its movements, cannot be changed by hand; "
    "or matches still hold part of it (a quantity below what they reserved, a delete)."
}


def _answer(response: Response, row: OfferRow, viewer: uuid.UUID) -> Offer | OfferPublic:
    set_etag(response, row.version)
    return offer_view(row, viewer)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=Offer,
    dependencies=[IdempotencyKey],
    summary="Offer material (role supplier or hub_operator)",
    description="Posts an offer of your organization at one of your sites or at a point, "
    "and answers 201 with it, its `ETag` and its `Location`. The requests it fits hear of it "
    "(`offer.candidate_found`) within moments. An organization without the supplier or "
    "hub_operator role answers 403; a material not in the EWC list, a window that ends before "
    "it starts or a mass that contradicts the quantity answer 422, each field named.",
    responses=problems(*AUTHENTICATED, *WRITE, 403),
)
async def create_offer(
    data: OfferCreate,
    principal: CurrentPrincipal,
    session: Session,
    settings: AppSettings,
    response: Response,
) -> Offer | OfferPublic:
    row = await create_listing(OFFERS, session, settings, principal, data)
    response.headers["Location"] = f"/v1/offers/{row.id}"
    return _answer(response, row, principal.organization_id)


@router.get(
    "",
    response_class=GeoJSONResponse,
    response_model=OfferFeatureCollection,
    summary="Offers of every organization as GeoJSON, nearest first when `near` is given",
    description="Everyone's offers as a GeoJSON FeatureCollection (`application/geo+json`) "
    "that QGIS and Leaflet read as they are: another organization's with their public fields, "
    "yours with all of them. Oldest first, or nearest first with `near=lon,lat` (and within "
    "`radius_km` when given), each with its `distance_m`. A full page has a `next` link. A "
    "`near` given as lat,lon answers 422 `lon_lat_order`, with the order meant.",
    responses=problems(*AUTHENTICATED, 422),
)
async def list_offers(
    request: Request,
    principal: CurrentPrincipal,
    session: Session,
    page: Page,
    near: Near,
    material: Annotated[
        str | None, Query(description="An EWC code, sub-chapter (4 digits) or chapter (2 digits).")
    ] = None,
    available_on: Annotated[
        date | None, Query(description="Only offers available on this day.")
    ] = None,
    status: Annotated[OfferStatus | None, Query(description="Only offers in this status.")] = None,
    mine: Annotated[bool, Query(description="Only your organization's offers.")] = False,
) -> GeoJSONResponse:
    rows = await list_offer_rows(
        session,
        principal,
        page,
        near=near,
        material=material,
        available_on=available_on,
        status=status,
        mine=mine,
    )
    viewer = principal.organization_id
    return feature_page(
        request,
        rows,
        page,
        lambda row, distance_m: offer_feature(row, viewer, distance_m),
        OfferFeatureCollection,
    )


@router.get(
    "/{offer_id}",
    response_model=Offer | OfferPublic,
    summary="One offer; private fields only for its owner",
    description="The offer with its `ETag`: all its fields for its organization; for "
    "anyone else its public fields, without `site_id` and `notes`.",
    responses=problems(*AUTHENTICATED, 422, says=_NO_OFFER),
)
async def read_offer(
    offer_id: uuid.UUID, principal: CurrentPrincipal, session: Session, response: Response
) -> Offer | OfferPublic:
    row = await get_listing(OFFERS, session, principal, offer_id)
    return _answer(response, row, principal.organization_id)


@router.patch(
    "/{offer_id}",
    response_model=Offer,
    summary="Change your offer (send `If-Match` with its ETag)",
    description="Changes the fields sent; the result follows the rules of a create. Changing "
    "a term a proposal relies on (material, condition, window, place, price, min lot, a "
    "piece's mass or volume, or closing it) expires the proposals on it, and both sides hear "
    "`match.expired`. Another organization's offer answers 403; with `If-Match`, an offer "
    "changed since you read it answers 412.",
    responses=problems(*AUTHENTICATED, 400, 403, 412, 413, 422, says={**_NO_OFFER, **_LOCKED}),
)
async def update_offer(
    offer_id: uuid.UUID,
    patch: OfferUpdate,
    principal: CurrentPrincipal,
    session: Session,
    settings: AppSettings,
    response: Response,
    if_match: IfMatch = None,
) -> Offer | OfferPublic:
    row = await update_listing(OFFERS, session, settings, principal, offer_id, patch, if_match)
    return _answer(response, row, principal.organization_id)


@router.delete(
    "/{offer_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Withdraw your offer",
    description="Deletes your offer; 204 on success. An offer that matches name answers 409: "
    "close it (`status: closed`) instead. Another organization's offer answers 403.",
    responses=problems(*AUTHENTICATED, 403, 412, 422, says={**_NO_OFFER, **_LOCKED}),
)
async def delete_offer(
    offer_id: uuid.UUID, principal: CurrentPrincipal, session: Session, if_match: IfMatch = None
) -> None:
    await delete_listing(OFFERS, session, principal, offer_id, if_match)
