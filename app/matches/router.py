import uuid

from fastapi import APIRouter, Request, Response, status

from app.auth import CurrentPrincipal
from app.dependencies import Session
from app.errors import PROBLEM_RESPONSES
from app.kit.etag import IfMatch, set_etag
from app.kit.idempotency import IdempotencyKey
from app.kit.pagination import Page, creation_key, page_links
from app.matches import service
from app.matches.schemas import Match, MatchCreate, MatchPage, MatchStatus, match_view
from app.models import Match as MatchRow
from app.shipments.schemas import MatchShipmentCreate, Shipment
from app.shipments.service import shipment_from_match, shipment_view

router = APIRouter(
    prefix="/v1/matches",
    tags=["matching"],
    responses=PROBLEM_RESPONSES,
)


def _answer(response: Response, row: MatchRow) -> Match:
    set_etag(response, row.version)
    return match_view(row)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    dependencies=[IdempotencyKey],
    summary="Propose a match between an offer and a request (either side's organization)",
)
async def propose_match(
    data: MatchCreate, principal: CurrentPrincipal, session: Session, response: Response
) -> Match:
    row = await service.propose_match(session, principal, data)
    response.headers["Location"] = f"/v1/matches/{row.id}"
    return _answer(response, row)


@router.get("", summary="Matches your organization stands on one side of, newest first")
async def list_matches(
    request: Request,
    principal: CurrentPrincipal,
    session: Session,
    page: Page,
    status: MatchStatus | None = None,
    offer_id: uuid.UUID | None = None,
    request_id: uuid.UUID | None = None,
) -> MatchPage:
    rows = await service.list_matches(session, principal, page, status, offer_id, request_id)
    return MatchPage(
        items=[match_view(r) for r in rows], links=page_links(request, page, rows, creation_key)
    )


@router.get("/{match_id}", summary="One match of your organization")
async def read_match(
    match_id: uuid.UUID, principal: CurrentPrincipal, session: Session, response: Response
) -> Match:
    return _answer(response, await service.get_match(session, principal, match_id))


@router.post(
    "/{match_id}/accept",
    dependencies=[IdempotencyKey],
    summary="Accept a match for your side; the second acceptance reserves the quantity",
    description="When both sides have accepted, the match's quantity is taken from the offer's and "
    "the request's remaining quantities in one transaction under row locks. If not enough "
    "remains, the accept answers 409 and nothing changes.",
)
async def accept_match(
    match_id: uuid.UUID,
    principal: CurrentPrincipal,
    session: Session,
    response: Response,
    if_match: IfMatch = None,
) -> Match:
    return _answer(response, await service.accept_match(session, principal, match_id, if_match))


@router.post("/{match_id}/reject", dependencies=[IdempotencyKey], summary="Reject a proposed match")
async def reject_match(
    match_id: uuid.UUID,
    principal: CurrentPrincipal,
    session: Session,
    response: Response,
    if_match: IfMatch = None,
) -> Match:
    return _answer(response, await service.reject_match(session, principal, match_id, if_match))


@router.post(
    "/{match_id}/fulfil",
    dependencies=[IdempotencyKey],
    summary="Record that the material of an accepted match changed hands (either side)",
)
async def fulfil_match(
    match_id: uuid.UUID,
    principal: CurrentPrincipal,
    session: Session,
    response: Response,
    if_match: IfMatch = None,
) -> Match:
    return _answer(response, await service.fulfil_match(session, principal, match_id, if_match))


@router.post(
    "/{match_id}/shipment",
    status_code=status.HTTP_201_CREATED,
    dependencies=[IdempotencyKey],
    summary="Create the shipment of an accepted match (either side)",
)
async def ship_match(
    match_id: uuid.UUID,
    data: MatchShipmentCreate,
    principal: CurrentPrincipal,
    session: Session,
    response: Response,
) -> Shipment:
    row = await shipment_from_match(session, principal, match_id, data)
    response.headers["Location"] = f"/v1/shipments/{row.id}"
    set_etag(response, row.version)
    return shipment_view(row)
