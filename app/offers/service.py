import uuid
from datetime import date

from sqlalchemy import ColumnElement, or_
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import Principal
from app.kit.ownership import load_readable, load_writable
from app.kit.pagination import PageParams
from app.kit.spatial import near_query, run_near_query
from app.listings import OFFER_PLAIN_FIELDS, new_listing, patch_listing
from app.materials.service import check_offer_material, check_request_material
from app.models import Offer
from app.offers.schemas import OfferCreate, OfferStatus, OfferStored, OfferUpdate
from app.settings import Settings

NOUN = "offer"
SUPPLY_ROLES = ("supplier", "hub_operator")


async def create_offer(
    session: AsyncSession, settings: Settings, principal: Principal, data: OfferCreate
) -> Offer:
    principal.require_role(*SUPPLY_ROLES)
    offer: Offer = await new_listing(
        Offer, session, settings, principal, data, check_offer_material, OFFER_PLAIN_FIELDS
    )
    return offer


async def get_offer(session: AsyncSession, principal: Principal, offer_id: uuid.UUID) -> Offer:
    return await load_readable(session, Offer, offer_id, principal, public=True, noun=NOUN)


async def list_offers(
    session: AsyncSession,
    principal: Principal,
    page: PageParams,
    *,
    near: tuple[float, float] | None,
    radius_km: float | None,
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
    if status is not None:
        filters.append(Offer.status == status.value)
    if mine:
        filters.append(Offer.organization_id == principal.organization_id)
    return await run_near_query(session, near_query(Offer, filters, near, radius_km, page))


async def update_offer(
    session: AsyncSession,
    settings: Settings,
    principal: Principal,
    offer_id: uuid.UUID,
    patch: OfferUpdate,
    if_match: str | None,
) -> Offer:
    offer = await load_writable(
        session, Offer, offer_id, principal, public=True, noun=NOUN, if_match=if_match
    )
    await patch_listing(
        offer,
        session,
        settings,
        principal,
        patch,
        OfferStored,
        check_offer_material,
        OFFER_PLAIN_FIELDS,
        NOUN,
    )
    return offer


async def delete_offer(
    session: AsyncSession, principal: Principal, offer_id: uuid.UUID, if_match: str | None
) -> None:
    offer = await load_writable(
        session, Offer, offer_id, principal, public=True, noun=NOUN, if_match=if_match
    )
    await session.delete(offer)
    await session.commit()
