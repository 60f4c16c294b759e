from datetime import date

from sqlalchemy import ColumnElement, or_
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import Principal
from app.candidates.service import announce_new_offer
from app.hubs.service import refresh_thresholds_near, refuse_lot_offer_edit
from app.kit.pagination import PageParams
from app.kit.spatial import NearParams
from app.listings import ListingKind, list_listings
from app.materials.service import check_offer_material, check_request_material
from app.models import Offer
from app.offers.schemas import OfferStatus, OfferStored


async def _on_offer_created(session: AsyncSession, offer: Offer) -> None:
    await announce_new_offer(session, offer)
    await refresh_thresholds_near(session, offer)


OFFERS = ListingKind(
    model=Offer,
    noun="offer",
    roles=("supplier", "hub_operator"),
    check_material=check_offer_material,
    plain_fields=frozenset(
        {
            "item_type",
            "title",
            "description",
            "min_lot",
            "available_from",
            "available_until",
            "condition",
            "price_per_unit",
            "notes",
            "status",
        }
    ),
    stored_schema=OfferStored,
    on_created=_on_offer_created,
    check_editable=refuse_lot_offer_edit,
)


async def list_offers(
    session: AsyncSession,
    principal: Principal,
    page: PageParams,
    *,
    near: NearParams,
    material: str | None,
    available_on: date | None,
    status: OfferStatus | None,
    mine: bool,
) -> list[tuple[Offer, float | None]]:
    filters: list[ColumnElement[bool]] = []
    if material is not None:
        filters.append(Offer.material.startswith(await check_request_material(session, material)))
    if available_on is not None:
        filters.append(Offer.available_from <= available_on)
        filters.append(or_(Offer.available_until.is_(None), Offer.available_until >= available_on))
    return await list_listings(
        OFFERS,
        session,
        principal,
        filters,
        near=near,
        page=page,
        status=status.value if status else None,
        mine=mine,
    )
