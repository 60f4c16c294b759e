"""What else happens when an offer is written: the layers above the listings hand in their
parts (the candidates and pools told of a new one, a yard's lot offer kept out of hand edits,
the proposals on a changed term expired)."""

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from app.candidates.service import announce_new_offer
from app.hubs.pooling import refresh_thresholds_near
from app.hubs.stock import refuse_lot_offer_edit
from app.listings.announcements import announce_new_offer_later
from app.listings.kind import ListingEffects
from app.listings.offers import OfferStatus
from app.matches.terms import expire_proposals_on_change
from app.models import Offer


async def _on_offer_created(session: AsyncSession, offer: Offer) -> None:
    await announce_new_offer_later(session, offer.id)


OFFER_EFFECTS = ListingEffects[Offer](
    on_created=_on_offer_created,
    check_editable=refuse_lot_offer_edit,
    on_patched=expire_proposals_on_change,
)


async def announce_offer(session: AsyncSession, offer_id: uuid.UUID) -> None:
    """The job: tells the owners of the requests the new offer fits, and re-measures the
    pools nearby; one transaction, so a retried job writes its events once."""
    offer = await session.get(Offer, offer_id)
    if offer is None or offer.status != OfferStatus.open.value:
        return
    await announce_new_offer(session, offer)
    await refresh_thresholds_near(session, offer)
