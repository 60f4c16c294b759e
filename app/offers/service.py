import uuid
from datetime import date

from sqlalchemy import ColumnElement, or_
from sqlalchemy.ext.asyncio import AsyncSession

from app.candidates.service import announce_new_offer
from app.hubs.pooling import refresh_thresholds_near
from app.hubs.stock import refuse_lot_offer_edit
from app.jobs.queue import EVENTS_QUEUE, JobKind, defer_in_transaction
from app.kit.pagination import PageParams
from app.kit.principal import Principal
from app.kit.spatial import NearParams
from app.listings import ListingKind, list_listings
from app.materials.service import check_offer_material, check_request_material
from app.models import Offer
from app.offers.schemas import OfferStatus, OfferStored

ANNOUNCE_NEW_OFFER = JobKind("offers:announce_new_offer", EVENTS_QUEUE)


async def announce_new_offer_later(session: AsyncSession, offer_id: uuid.UUID) -> None:
    """The one entry point of a new offer, posted by a company or opened by a yard's intake:
    a job, once the offer is committed, tells the requests it fits and re-measures the pools
    near it. A new offer may fit many requests and pools: a job keeps the write small and
    quick."""
    await session.flush()
    await defer_in_transaction(session, ANNOUNCE_NEW_OFFER, {"offer_id": str(offer_id)})


async def _on_offer_created(session: AsyncSession, offer: Offer) -> None:
    await announce_new_offer_later(session, offer.id)


async def announce_offer(session: AsyncSession, offer_id: uuid.UUID) -> None:
    """The job: tells the owners of the requests the new offer fits, and re-measures the
    pools nearby; one transaction, so a retried job writes its events once."""
    offer = await session.get(Offer, offer_id)
    if offer is None or offer.status != OfferStatus.open.value:
        return
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
