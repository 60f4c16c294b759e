import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import CurrentPrincipal
from app.gateway.idempotency import IdempotencyKey
from app.kit.etag import IfMatch, set_etag
from app.kit.pagination import Page, creation_key, page_links
from app.kit.problem_docs import AUTHENTICATED, WRITE, problems
from app.kit.request_session import Session
from app.matches import service
from app.matches.schemas import Match, MatchCreate, MatchPage, MatchStatus
from app.matches.views import match_views, one_match_view
from app.models import Match as MatchRow

router = APIRouter(prefix="/v1/matches", tags=["matching"])
_NO_MATCH = {404: "No match with this id that your organization stands on a side of."}


async def _answer(session: AsyncSession, response: Response, row: MatchRow) -> Match:
    """`app.kit.owned.answer` for a match: its view reads what the yards delivered of it
    (`one_match_view`, a query), so it is awaited and cannot be that function's plain view."""
    set_etag(response, row.version)
    return await one_match_view(session, row)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    dependencies=[IdempotencyKey],
    summary="Propose a match between an offer and a request (either side's organization)",
    description="Proposes a match and answers 201 with it; both sides hear `match.proposed` "
    "and each still accepts it. Only the offer's or the request's organization may propose "
    "(403 otherwise). A pair that is no candidate answers 422 `candidate`; a quantity beyond "
    "what the offer can supply `within_supply`, below what can be counted "
    "`at_least_matchable`, below the offer's min lot `min_lot`. A pair has one proposal "
    "waiting at a time: while one is `proposed`, another proposal of the same offer and request "
    "answers 409 (`match-already-proposed`) with its `match_id` and `Location`; accept or "
    "reject it instead. Once it is answered (accepted, rejected, expired), the pair may be "
    "proposed again.",
    responses=problems(
        *AUTHENTICATED,
        *WRITE,
        403,
        says={
            404: "No offer or no request with the id given.",
            409: "The pair has a proposal waiting (`match_id`, `Location`), or the "
            "Idempotency-Key was reused with another body",
        },
    ),
)
async def propose_match(
    data: MatchCreate, principal: CurrentPrincipal, session: Session, response: Response
) -> Match:
    row = await service.propose_match(session, principal, data)
    response.headers["Location"] = f"/v1/matches/{row.id}"
    return await _answer(session, response, row)


@router.get(
    "",
    summary="Matches your organization stands on one side of, newest first",
    description="Your organization's matches, as the offer's or the request's side, newest "
    "first, optionally of one status, offer or request; a full page has a `next` link. "
    "Matches between two other organizations never appear.",
    responses=problems(*AUTHENTICATED, 422),
)
async def list_matches(
    request: Request,
    principal: CurrentPrincipal,
    session: Session,
    page: Page,
    status: Annotated[MatchStatus | None, Query(description="Only matches in this status.")] = None,
    offer_id: Annotated[
        uuid.UUID | None, Query(description="Only the matches of this offer.")
    ] = None,
    request_id: Annotated[
        uuid.UUID | None, Query(description="Only the matches of this request.")
    ] = None,
) -> MatchPage:
    rows = await service.list_matches(session, principal, page, status, offer_id, request_id)
    return MatchPage(
        items=await match_views(session, rows),
        links=page_links(request, page, rows, creation_key),
    )


@router.get(
    "/{match_id}",
    summary="One match of your organization",
    description="The match with its `ETag`, when your organization is one of its sides; to "
    "anyone else it does not exist (404).",
    responses=problems(*AUTHENTICATED, 422, says=_NO_MATCH),
)
async def read_match(
    match_id: uuid.UUID, principal: CurrentPrincipal, session: Session, response: Response
) -> Match:
    return await _answer(session, response, await service.get_match(session, principal, match_id))


@router.post(
    "/{match_id}/accept",
    dependencies=[IdempotencyKey],
    summary="Accept a match for your side; the second acceptance reserves the quantity",
    description="When both sides have accepted, the match's quantity is taken from the offer's and "
    "the request's remaining quantities in one transaction under row locks. If not enough "
    "remains, the accept answers 409 and nothing changes.",
    responses=problems(
        *AUTHENTICATED,
        412,
        422,
        says={
            **_NO_MATCH,
            409: "The match is no longer proposed; not enough remains; a term it was "
            "proposed on changed (`changed` names it, and the match is expired); or an "
            "Idempotency-Key reused with another request.",
        },
    ),
)
async def accept_match(
    match_id: uuid.UUID,
    principal: CurrentPrincipal,
    session: Session,
    response: Response,
    if_match: IfMatch = None,
) -> Match:
    return await _answer(
        session, response, await service.accept_match(session, principal, match_id, if_match)
    )


@router.post(
    "/{match_id}/reject",
    dependencies=[IdempotencyKey],
    summary="Reject a proposed match",
    description="Declines a proposed match for your side; both sides hear `match.rejected`. "
    "A match that is no longer proposed answers 409.",
    responses=problems(
        *AUTHENTICATED,
        412,
        422,
        says={
            **_NO_MATCH,
            409: "The match is no longer proposed, or an Idempotency-Key reused with "
            "another request.",
        },
    ),
)
async def reject_match(
    match_id: uuid.UUID,
    principal: CurrentPrincipal,
    session: Session,
    response: Response,
    if_match: IfMatch = None,
) -> Match:
    return await _answer(
        session, response, await service.reject_match(session, principal, match_id, if_match)
    )


@router.post(
    "/{match_id}/fulfil",
    dependencies=[IdempotencyKey],
    summary="Record that the material of an accepted match changed hands (either side)",
    description="Marks an accepted match `fulfilled`. A match that is not accepted, one that "
    "takes from a yard's lot (its dispatches fulfil it), or one a yard's intakes have begun "
    "to take in (they fulfil it) answers 409.",
    responses=problems(
        *AUTHENTICATED,
        412,
        422,
        says={
            **_NO_MATCH,
            409: "The match is not accepted, or a yard's dispatches or intakes fulfil it; or "
            "an Idempotency-Key reused with another request.",
        },
    ),
)
async def fulfil_match(
    match_id: uuid.UUID,
    principal: CurrentPrincipal,
    session: Session,
    response: Response,
    if_match: IfMatch = None,
) -> Match:
    return await _answer(
        session, response, await service.fulfil_match(session, principal, match_id, if_match)
    )
