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
from app.models import Offer as OfferRow
from app.offers.schemas import Offer, OfferCreate, OfferPublic, OfferStatus, OfferUpdate, offer_view
from app.offers.service import OFFERS
from app.offers.service import list_offers as list_offer_rows

router = APIRouter(
    prefix="/v1/offers",
    tags=["offers"],
    responses=PROBLEM_RESPONSES,
)


def _answer(response: Response, row: OfferRow, viewer: uuid.UUID) -> Offer | OfferPublic:
    set_etag(response, row.version)
    return offer_view(row, viewer)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=Offer,
    dependencies=[IdempotencyKey],
    summary="Offer material (role supplier or hub_operator)",
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
    response_model=FeatureCollection,
    summary="Offers of every organization as GeoJSON, nearest first when `near` is given",
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
    status: OfferStatus | None = None,
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
    return feature_page(request, rows, page, lambda row: offer_view(row, principal.organization_id))


@router.get("/{offer_id}", summary="One offer; private fields only for its owner")
async def read_offer(
    offer_id: uuid.UUID, principal: CurrentPrincipal, session: Session, response: Response
) -> Offer | OfferPublic:
    row = await get_listing(OFFERS, session, principal, offer_id)
    return _answer(response, row, principal.organization_id)


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
    row = await update_listing(OFFERS, session, settings, principal, offer_id, patch, if_match)
    return _answer(response, row, principal.organization_id)


@router.delete("/{offer_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Withdraw your offer")
async def delete_offer(
    offer_id: uuid.UUID, principal: CurrentPrincipal, session: Session, if_match: IfMatch = None
) -> None:
    await delete_listing(OFFERS, session, principal, offer_id, if_match)
