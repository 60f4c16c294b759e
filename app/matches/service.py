"""The match lifecycle. A match is proposed (by a run or by one of the two sides), accepted by
each side, and when the second side accepts, its quantity is reserved on the offer and on the
request in the same transaction, under the locks of app/quantity_locks.py: nothing is ever
allocated twice. Only the two sides see or change a match.

An offer and a request have one proposal waiting at a time (a unique index of the database,
`PENDING_PROPOSAL_INDEX`): a second proposal of the pair answers 409 naming the first, however
many arrive at once, and a matching run leaves the pair out."""

import uuid
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.candidates.repository import candidate_pair
from app.hubs.fulfilment import fulfil
from app.hubs.repository import lot_balance, lot_of_offer, match_deliveries
from app.hubs.stock import sync_lot_offer
from app.kit.database_errors import violated_constraint
from app.kit.etag import check_if_match
from app.kit.pagination import PageParams, keyset_page, newest_first
from app.kit.principal import Principal
from app.kit.problems import Conflict, Forbidden, NotFound, ValidationFailed
from app.kit.transactions import write_despite_failure
from app.listings.offers import OFFERS
from app.listings.requests import REQUESTS
from app.listings.service import get_listing
from app.matches.schemas import MatchCreate, MatchStatus
from app.matches.terms import announce, broken_terms, expire_match
from app.models import HubLot, Match, MaterialRequest, Offer
from app.quantity_locks import lock_in_order
from matching.candidates import CandidatePair
from matching.scoring import (
    Candidate,
    score_candidate,
    share_of_offer,
    smallest_matchable_quantity,
)

_MASS_UNITS = {"kg": 1.0, "t": 1000.0}
# Remaining quantities are kept to three decimals in the database.
_EPSILON = 0.0005
# The unique index (migration 0017) of the matches still `proposed`, on (offer_id, request_id).
PENDING_PROPOSAL_INDEX = "matches_one_pending_proposal"


class ProposalPending(Conflict):
    slug = "match-already-proposed"


def is_second_proposal(exc: IntegrityError) -> bool:
    """Whether the insert of a proposal failed because its pair has one waiting already."""
    return violated_constraint(exc) == PENDING_PROPOSAL_INDEX


async def _refuse_second_proposal(
    session: AsyncSession, offer_id: uuid.UUID, request_id: uuid.UUID
) -> None:
    """Answers 409, naming the proposal of the pair that waits for its sides, if there is one."""
    pending = await session.scalar(
        select(Match.id).where(
            Match.offer_id == offer_id,
            Match.request_id == request_id,
            Match.status == MatchStatus.proposed.value,
        )
    )
    if pending is not None:
        raise ProposalPending(
            f"Match {pending} already proposes this offer to this request and waits for its "
            "sides: accept it or reject it (POST /v1/matches/{id}/accept or /reject). A pair "
            "has one proposal waiting at a time.",
            headers={"Location": f"/v1/matches/{pending}"},
            match_id=str(pending),
        )


def new_match(candidate: Candidate, quantity: float, proposed_by: str) -> Match:
    """A proposed match for `quantity` (in the request's unit) of a scored candidate."""
    return Match(**match_values(candidate, quantity, proposed_by))


def match_values(candidate: Candidate, quantity: float, proposed_by: str) -> dict[str, Any]:
    """The columns of `new_match`, for inserting many at once."""
    pair = candidate.pair
    offer_quantity, mass_kg = share_of_offer(pair, quantity)
    return {
        "id": uuid.uuid4(),
        "offer_id": uuid.UUID(pair.offer_id),
        "request_id": uuid.UUID(pair.request_id),
        "quantity_value": round(quantity, 3),
        "quantity_unit": pair.request_unit,
        "offer_quantity_value": round(offer_quantity, 3),
        "offer_quantity_unit": pair.offer_unit,
        "mass_kg": None if mass_kg is None else round(mass_kg, 3),
        "distance_m": pair.distance_m,
        "distance_kind": "straight_line",
        "score": {
            "total": round(candidate.score, 4),
            **{k: round(v, 4) for k, v in vars(candidate.parts).items()},
            "co2_kg": round(candidate.co2_kg, 3),
        },
        "status": MatchStatus.proposed.value,
        "proposed_by": proposed_by,
        "offer_version": pair.offer_version,
        "request_version": pair.request_version,
    }


def _in_request_unit(data: MatchCreate, pair: CandidatePair, default: float) -> float:
    if data.quantity is None:
        return default
    unit, value = data.quantity.unit.value, data.quantity.value
    if unit == pair.request_unit:
        return value
    if unit in _MASS_UNITS and pair.request_unit in _MASS_UNITS:
        return value * _MASS_UNITS[unit] / _MASS_UNITS[pair.request_unit]
    raise ValidationFailed.field(
        "quantity.unit",
        "request_unit",
        f"Give the quantity in the request's unit, {pair.request_unit}.",
    )


async def propose_match(session: AsyncSession, principal: Principal, data: MatchCreate) -> Match:
    offer = await get_listing(OFFERS, session, principal, data.offer_id)
    request = await get_listing(REQUESTS, session, principal, data.request_id)
    if principal.organization_id == offer.organization_id:
        side = "offer"
    elif principal.organization_id == request.organization_id:
        side = "request"
    else:
        raise Forbidden(
            "Only the offer's or the request's organization may propose a match between them."
        )
    await _refuse_second_proposal(session, offer.id, request.id)
    pair = await candidate_pair(session, data.offer_id, data.request_id)
    candidate = None if pair is None else score_candidate(pair)
    if pair is None or candidate is None:
        raise ValidationFailed.field(
            "offer_id",
            "candidate",
            "This offer cannot serve this request: see GET /v1/requests/{id}/candidates for those that can.",
        )
    quantity = _in_request_unit(data, pair, candidate.quantity)
    if quantity > candidate.quantity + _EPSILON:
        raise ValidationFailed.field(
            "quantity.value",
            "within_supply",
            f"At most {candidate.quantity:g} {pair.request_unit} can be matched between these two.",
        )
    smallest = smallest_matchable_quantity(pair)
    if quantity < smallest - _EPSILON:
        raise ValidationFailed.field(
            "quantity.value",
            "at_least_matchable",
            f"At least {smallest:g} {pair.request_unit} can be matched between these two "
            f"(and at most {candidate.quantity:g}): less would take nothing countable of the "
            f"offer, kept in {pair.offer_unit} to three decimals.",
        )
    match = new_match(candidate, quantity, proposed_by=side)
    if (
        pair.offer_min_lot is not None
        and match.offer_quantity_value < pair.offer_min_lot - _EPSILON
    ):
        raise ValidationFailed.field(
            "quantity.value",
            "min_lot",
            f"The offer sells lots of at least {pair.offer_min_lot:g} {pair.offer_unit}.",
        )
    try:
        # A savepoint: the refused insert leaves the transaction usable to name the other one.
        async with session.begin_nested():
            session.add(match)
    except IntegrityError as exc:
        if not is_second_proposal(exc):
            raise
        # Another request proposed the pair since the check above, and committed.
        await _refuse_second_proposal(session, data.offer_id, data.request_id)
        raise Conflict(
            "Another proposal of this offer to this request was made at the same moment and "
            "is already answered: look at GET /v1/matches?offer_id=...&request_id=... and "
            "propose again if you still want to."
        ) from None
    await announce(
        session, match, "match.proposed", {offer.organization_id, request.organization_id}
    )
    return match


async def _visible_match(
    session: AsyncSession, principal: Principal, match_id: uuid.UUID, *, lock: bool = True
) -> tuple[Match, str, set[uuid.UUID]]:
    """The match (locked for this transaction unless `lock` is off) and the side the principal
    stands on; a match of two other organizations is answered as missing."""
    query = (
        select(Match, Offer.organization_id, MaterialRequest.organization_id)
        .join(Offer, Offer.id == Match.offer_id)
        .join(MaterialRequest, MaterialRequest.id == Match.request_id)
        .where(Match.id == match_id)
    )
    if lock:
        query = query.with_for_update(of=Match, key_share=True)
    row = (await session.execute(query)).one_or_none()
    if row is None or principal.organization_id not in (row[1], row[2]):
        raise NotFound(f"No match {match_id}.")
    return row[0], "offer" if principal.organization_id == row[1] else "request", {row[1], row[2]}


async def accept_match(
    session: AsyncSession, principal: Principal, match_id: uuid.UUID, if_match: str | None = None
) -> Match:
    match, side, sides = await _visible_match(session, principal, match_id, lock=False)
    lot = await lot_of_offer(session, match.offer_id)
    await _lock_for_acceptance(session, match, lot)
    check_if_match(if_match, match.version)
    if match.status != MatchStatus.proposed.value:
        raise Conflict(f"This match is {match.status}: only a proposed match can be accepted.")
    offer, request, broken = await _terms(session, match)
    if broken:
        # The expiry stands although the acceptance fails: both sides hear of it.
        expired = await write_despite_failure(
            session, lambda again: _expire_on_broken_terms(again, match_id, lot, sides)
        )
        if not expired:
            raise Conflict(
                "This match changed while you accepted it: read it again "
                f"(GET /v1/matches/{match_id}) and retry."
            )
        raise Conflict(
            f"{_broken_reason(expired)} The match has expired; propose a new one.",
            changed=expired,
        )
    now = datetime.now(UTC)
    if side == "offer":
        match.offer_accepted_at = match.offer_accepted_at or now
    else:
        match.request_accepted_at = match.request_accepted_at or now
    if match.offer_accepted_at and match.request_accepted_at:
        await _reserve(session, match, offer, request, lot)
        await announce(session, match, "match.accepted", sides)
    await session.flush()
    return match


async def _lock_for_acceptance(session: AsyncSession, match: Match, lot: HubLot | None) -> None:
    """Locks what an acceptance may change, in the order of app/quantity_locks.py, and reads
    the match again under its lock."""
    await lock_in_order(
        session,
        hubs=[lot.hub_id if lot else None],
        offers=[match.offer_id],
        requests=[match.request_id],
        matches=[match.id],
    )
    await session.refresh(match)


async def _terms(session: AsyncSession, match: Match) -> tuple[Offer, MaterialRequest, list[str]]:
    """The match's offer and request as they stand, and the terms of the proposal they broke."""
    offer = await session.get_one(Offer, match.offer_id, populate_existing=True)
    request = await session.get_one(MaterialRequest, match.request_id, populate_existing=True)
    return offer, request, await broken_terms(session, match, offer, request)


def _broken_reason(broken: list[str]) -> str:
    return f"Since the proposal, {'; '.join(broken)}."


async def _expire_on_broken_terms(
    session: AsyncSession, match_id: uuid.UUID, lot: HubLot | None, sides: set[uuid.UUID]
) -> list[str]:
    """Expires the proposed match whose terms broke, as they stand under its locks in this
    transaction; answers the terms broken, or none when the match has changed meanwhile
    (answered, or its terms whole again) and is left alone."""
    match = await session.get_one(Match, match_id)
    await _lock_for_acceptance(session, match, lot)
    if match.status != MatchStatus.proposed.value:
        return []
    _, _, broken = await _terms(session, match)
    if broken:
        await expire_match(session, match, sides, _broken_reason(broken))
    return broken


async def _reserve(
    session: AsyncSession,
    match: Match,
    offer: Offer,
    request: MaterialRequest,
    lot: HubLot | None,
) -> None:
    """Takes the match's quantity from the offer and the request, whose rows (and the hub's,
    for a lot) the caller holds. A lot's offer shows what its stock leaves free, so a lot is
    checked against its stock and its offer follows from it."""
    for noun, listing, amount in (
        ("offer", offer, match.offer_quantity_value),
        ("request", request, match.quantity_value),
    ):
        remaining = listing.remaining_value
        if noun == "offer" and lot is not None:
            remaining = (await lot_balance(session, lot)).available
        if listing.status != "open" or remaining + _EPSILON < amount:
            raise Conflict(
                f"Only {remaining:g} {listing.quantity_unit} remain on the {noun} "
                f"({listing.status}); this match needs {amount:g}. Nothing was reserved.",
                remaining=remaining,
            )
        if noun == "offer" and lot is not None:
            continue
        listing.remaining_value = round(max(0.0, remaining - amount), 3)
        if listing.remaining_value == 0:
            listing.status = "reserved"
    match.status = MatchStatus.accepted.value
    await session.flush()
    if lot is not None:
        await sync_lot_offer(session, lot)


async def reject_match(
    session: AsyncSession, principal: Principal, match_id: uuid.UUID, if_match: str | None = None
) -> Match:
    match, _, sides = await _visible_match(session, principal, match_id)
    check_if_match(if_match, match.version)
    if match.status != MatchStatus.proposed.value:
        raise Conflict(f"This match is {match.status}: only a proposed match can be rejected.")
    match.status = MatchStatus.rejected.value
    await session.flush()
    await announce(session, match, "match.rejected", sides)
    return match


async def fulfil_match(
    session: AsyncSession, principal: Principal, match_id: uuid.UUID, if_match: str | None = None
) -> Match:
    """Either side records that the material changed hands."""
    match, _, _ = await _visible_match(session, principal, match_id)
    check_if_match(if_match, match.version)
    if match.status != MatchStatus.accepted.value:
        raise Conflict(f"This match is {match.status}: only an accepted match can be fulfilled.")
    if await lot_of_offer(session, match.offer_id) is not None:
        raise Conflict(
            "This match takes from a hub lot: the hub operator fulfils it by recording the "
            "dispatches (POST /v1/hubs/{id}/movements with this match_id)."
        )
    taken_in = (await match_deliveries(session, [match.id]))[match.id].taken_in
    if taken_in > 0:
        # The yard's intakes deliver it: by hand, the rest would be fulfilled unseen.
        raise Conflict(
            f"A yard took in {taken_in:g} {match.offer_quantity_unit} of this match: its "
            f"intakes deliver it, and the one that takes in the "
            f"{round(match.offer_quantity_value - taken_in, 3):g} left fulfils it.",
            delivered=taken_in,
        )
    fulfil(match)
    await session.flush()
    return match


async def expire_stale_matches(session: AsyncSession, today: date) -> int:
    """Proposed matches whose offer or request window has passed can no longer be accepted;
    both sides hear of it (`match.expired`)."""
    stale = (
        await session.execute(
            select(Match, Offer.organization_id, MaterialRequest.organization_id)
            .join(Offer, Offer.id == Match.offer_id)
            .join(MaterialRequest, MaterialRequest.id == Match.request_id)
            .where(
                Match.status == MatchStatus.proposed.value,
                or_(Offer.available_until < today, MaterialRequest.needed_by < today),
            )
            .order_by(Match.id)
            .with_for_update(of=Match, skip_locked=True, key_share=True)
        )
    ).all()
    for match, offer_org, request_org in stale:
        await expire_match(
            session, match, {offer_org, request_org}, "The offer's or the request's window passed."
        )
    return len(stale)


async def get_match(session: AsyncSession, principal: Principal, match_id: uuid.UUID) -> Match:
    match, _, _ = await _visible_match(session, principal, match_id, lock=False)
    return match


async def list_matches(
    session: AsyncSession,
    principal: Principal,
    page: PageParams,
    status: MatchStatus | None,
    offer_id: uuid.UUID | None,
    request_id: uuid.UUID | None,
) -> list[Match]:
    """Matches on either side of which the organization stands, newest first."""
    query = (
        select(Match)
        .join(Offer, Offer.id == Match.offer_id)
        .join(MaterialRequest, MaterialRequest.id == Match.request_id)
        .where(
            or_(
                Offer.organization_id == principal.organization_id,
                MaterialRequest.organization_id == principal.organization_id,
            )
        )
    )
    if status is not None:
        query = query.where(Match.status == status.value)
    if offer_id is not None:
        query = query.where(Match.offer_id == offer_id)
    if request_id is not None:
        query = query.where(Match.request_id == request_id)
    return list((await session.scalars(keyset_page(query, newest_first(Match), page))).all())
