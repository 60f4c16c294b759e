"""A match's terms: what the offer and the request said when it was proposed.

A proposal keeps the versions of the offer and the request it was made on. A patch of a term
a proposal relies on expires the proposal at once (`match.expired` to both sides); an accept
on rows that moved since the proposal re-checks the terms, so that nobody accepts what the
other side no longer offers or needs."""

import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.matches.schemas import Match as MatchView
from app.matches.schemas import MatchStatus
from app.matches.views import match_views, one_match_view
from app.models import Match, MaterialRequest, Offer, Webhook
from app.webhooks.outbox import emit

# The fields of a listing whose change voids the proposals on it (as the listing schemas name
# them); any other field (a title, a description) leaves them standing.
OFFER_TERMS = frozenset(
    {
        "material",
        "condition",
        "available_from",
        "available_until",
        "quantity_unit",
        "mass_kg",
        "volume_m3",
        "location",
        "min_lot",
        "price_per_unit",
        "status",
    }
)
REQUEST_TERMS = frozenset(
    {
        "material",
        "min_condition",
        "needed_from",
        "needed_by",
        "quantity_unit",
        "mass_kg",
        "volume_m3",
        "location",
        "max_distance_km",
        "max_price_per_unit",
        "status",
    }
)
_TOLERANCE = 0.0005


def changed_terms(noun: str, before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    terms = OFFER_TERMS if noun == "offer" else REQUEST_TERMS
    # A mass counted in kg or t, or a volume in m3, is the quantity itself, which is no term:
    # what remains of it is checked at the accept.
    derived = {"kg": {"mass_kg"}, "t": {"mass_kg"}, "m3": {"volume_m3"}}
    terms = terms - derived.get(before.get("quantity_unit", ""), set())
    return sorted(name for name in terms if before.get(name) != after.get(name))


async def announce(
    session: AsyncSession,
    match: Match,
    event_type: str,
    organization_ids: Iterable[uuid.UUID],
    **details: Any,
) -> None:
    """Tells both sides' webhooks, in the transaction of the change."""
    await _emit_view(
        session, match, await one_match_view(session, match), event_type, organization_ids, details
    )


async def announce_each(
    session: AsyncSession, event_type: str, matches: Sequence[tuple[uuid.UUID, Iterable[uuid.UUID]]]
) -> None:
    """`announce` for many matches, each named by its id with its sides (a run's proposals):
    only the matches a side subscribes to are read, at once, and told."""
    sides = {match_id: set(organization_ids) for match_id, organization_ids in matches}
    subscribed = set(
        await session.scalars(
            select(Webhook.organization_id)
            .where(
                Webhook.organization_id.in_(set().union(*sides.values())),
                Webhook.events.contains([event_type]),
            )
            .distinct()
        )
    )
    told = [match_id for match_id, _ in matches if sides[match_id] & subscribed]
    if not told:
        return
    rows = {m.id: m for m in await session.scalars(select(Match).where(Match.id.in_(told)))}
    in_order = [rows[match_id] for match_id in told]
    for match, view in zip(in_order, await match_views(session, in_order), strict=True):
        await _emit_view(session, match, view, event_type, sides[match.id], {})


async def _emit_view(
    session: AsyncSession,
    match: Match,
    view: MatchView,
    event_type: str,
    organization_ids: Iterable[uuid.UUID],
    details: dict[str, Any],
) -> None:
    await emit(
        session,
        set(organization_ids),
        event_type,
        {"match": view.model_dump(mode="json"), **details},
        # Each step (proposed, accepted, rejected, expired) happens to a match once at most.
        fact=(match.id,),
    )


async def expire_match(
    session: AsyncSession, match: Match, sides: Iterable[uuid.UUID], reason: str
) -> None:
    match.status = MatchStatus.expired.value
    await session.flush()
    await announce(session, match, "match.expired", sides, reason=reason)


async def expire_proposals_on(
    session: AsyncSession, noun: str, listing_id: uuid.UUID, terms: list[str]
) -> int:
    """Expires the proposals on a listing whose terms just changed. The caller holds the
    listing's lock; the matches are locked after it, as app/quantity_locks.py orders."""
    column = Match.offer_id if noun == "offer" else Match.request_id
    rows = (
        await session.execute(
            select(Match, Offer.organization_id, MaterialRequest.organization_id)
            .join(Offer, Offer.id == Match.offer_id)
            .join(MaterialRequest, MaterialRequest.id == Match.request_id)
            .where(column == listing_id, Match.status == MatchStatus.proposed.value)
            .order_by(Match.id)
            .with_for_update(of=Match, key_share=True)
        )
    ).all()
    reason = f"The {noun}'s {', '.join(terms)} changed after the proposal."
    for match, offer_org, request_org in rows:
        await expire_match(session, match, {offer_org, request_org}, reason)
    return len(rows)


async def expire_proposals_on_change(
    session: AsyncSession,
    noun: str,
    listing_id: uuid.UUID,
    before: dict[str, Any],
    after: dict[str, Any],
) -> None:
    """After a patch of a listing (its terms as they were and are): the proposals on it expire
    when a term they relied on changed."""
    moved = changed_terms(noun, before, after)
    if moved:
        await expire_proposals_on(session, noun, listing_id, moved)


async def broken_terms(
    session: AsyncSession, match: Match, offer: Offer, request: MaterialRequest
) -> list[str]:
    """What no longer holds between the offer and the request as they are now, of what the
    proposal relied on; nothing when neither moved since."""
    if (match.offer_version, match.request_version) == (offer.version, request.version):
        return []
    broken = []
    if not offer.material.startswith(request.material):
        broken.append(f"the offer's material {offer.material} is not in {request.material}")
    if offer.condition > request.min_condition:
        broken.append(
            f"the offer's condition {offer.condition} is below the {request.min_condition} "
            "the request needs"
        )
    if offer.available_from > request.needed_by or (
        offer.available_until is not None and offer.available_until < request.needed_from
    ):
        broken.append("the offer's availability no longer meets the request's window")
    if offer.quantity_unit != match.offer_quantity_unit:
        broken.append(
            f"the offer counts in {offer.quantity_unit}, the match in {match.offer_quantity_unit}"
        )
    if request.quantity_unit != match.quantity_unit:
        broken.append(
            f"the request counts in {request.quantity_unit}, the match in {match.quantity_unit}"
        )
    if offer.min_lot is not None and match.offer_quantity_value + _TOLERANCE < offer.min_lot:
        broken.append(f"the offer now sells lots of at least {offer.min_lot:g}")
    if (
        offer.price_per_unit is not None
        and request.max_price_per_unit is not None
        and offer.quantity_unit == request.quantity_unit
        and offer.price_per_unit > request.max_price_per_unit
    ):
        broken.append("the offer's price is above the request's maximum")
    distance_m = await session.scalar(
        select(
            func.ST_Distance(_geography(Offer, offer.id), _geography(MaterialRequest, request.id))
        )
    )
    if distance_m is not None and distance_m > request.max_distance_km * 1000 + 1:
        broken.append(
            f"the offer is {distance_m / 1000:.1f} km away, beyond the request's "
            f"{request.max_distance_km:g} km"
        )
    if _offer_share_moved(match, offer, request):
        broken.append("the mass per unit changed, and with it what the match takes from the offer")
    return broken


def _geography(model: Any, row_id: uuid.UUID) -> Any:
    return select(func.geography(model.location)).where(model.id == row_id).scalar_subquery()


def _offer_share_moved(match: Match, offer: Offer, request: MaterialRequest) -> bool:
    """When the two count in different units, the match's mass ties them; it must still be
    what the offer's mass per unit makes of the offer's part."""
    if offer.quantity_unit == request.quantity_unit or match.mass_kg is None:
        return False
    per_unit = {"kg": 1.0, "t": 1000.0}.get(offer.quantity_unit)
    if per_unit is None and offer.mass_kg is not None and offer.quantity_value > 0:
        per_unit = offer.mass_kg / offer.quantity_value
    if per_unit is None:
        return False
    return abs(match.offer_quantity_value * per_unit - match.mass_kg) > max(
        1.0, 0.001 * match.mass_kg
    )
