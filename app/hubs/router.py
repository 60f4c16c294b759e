import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response, status

from app.auth import CurrentPrincipal
from app.gateway.idempotency import IdempotencyKey
from app.hubs.access import load_hub
from app.hubs.capacity import hub_view, set_hub_settings
from app.hubs.movements import get_movement, list_movements
from app.hubs.pooling import hub_pooling
from app.hubs.schemas import (
    Hub,
    HubSettings,
    Movement,
    MovementCreate,
    MovementPage,
    Pooling,
    Stock,
)
from app.hubs.stock import hub_stock, record_movement
from app.kit.etag import IfMatch, set_etag
from app.kit.pagination import Page, creation_key, page_links
from app.kit.problem_docs import AUTHENTICATED, WRITE, problems
from app.kit.request_session import Session

router = APIRouter(prefix="/v1/hubs", tags=["hubs"])

_NOT_YOURS = "No site of yours has this id (another organization's answers so too)"
_NOT_A_HUB = "This site is yours but not of kind yard or hub: it keeps no stock"
_ROLE = "Your organization has not the role hub_operator"
# What every route of a hub may answer: it is named by a path id and read by its operator.
_HUB_PROBLEMS = (*AUTHENTICATED, 403, 404, 409, 422)


def _hub_problems(*statuses: int, says: dict[int, str] | None = None) -> dict[int | str, Any]:
    return problems(
        *_HUB_PROBLEMS,
        *statuses,
        says={403: _ROLE, 404: _NOT_YOURS, 409: _NOT_A_HUB, **(says or {})},
    )


@router.get(
    "/{hub_id}",
    summary="One of your yards or hubs, with its capacity, thresholds and publication",
    description="A site of yours of kind yard or hub (role hub_operator), with the capacity, "
    "pooling thresholds and publication you set, and its `ETag` for `If-Match` on PUT.",
    responses=_hub_problems(),
)
async def read_hub(
    hub_id: uuid.UUID, principal: CurrentPrincipal, session: Session, response: Response
) -> Hub:
    hub = await load_hub(session, principal, hub_id)
    set_etag(response, hub.version)
    return await hub_view(session, hub)


@router.put(
    "/{hub_id}",
    summary="Set a hub's capacity, pooling thresholds and publication",
    description="Replaces them all (role hub_operator). `public: true` puts the hub in the "
    "open data (`ogc.hubs`, the map) with its stock and free room rounded to the tonne and "
    "the m3, or exact with `public_stock: exact`; left out, the hub is private. With "
    "`If-Match` (the ETag of GET /v1/hubs/{id}), a hub changed since that read answers 412 "
    "and nothing is changed. A capacity below what the hub holds already answers 409. "
    "Answers the hub and its new `ETag`.",
    responses=_hub_problems(
        400,
        412,
        413,
        says={409: f"{_NOT_A_HUB}; or the capacity is below what the hub holds already"},
    ),
)
async def set_hub(
    hub_id: uuid.UUID,
    data: HubSettings,
    principal: CurrentPrincipal,
    session: Session,
    response: Response,
    if_match: IfMatch = None,
) -> Hub:
    hub, version = await set_hub_settings(session, principal, hub_id, data, if_match)
    set_etag(response, version)
    return hub


@router.post(
    "/{hub_id}/movements",
    status_code=status.HTTP_201_CREATED,
    dependencies=[IdempotencyKey],
    summary="Record an intake or a dispatch",
    description="Movements are append-only; the stock is their sum (role hub_operator). An "
    "intake comes from your accepted match on an offer, or from a walk-in supplier; a "
    "dispatch goes to an accepted match on the lot's offer (all that is left of it, or a "
    "part: the match is fulfilled when its dispatches reach its quantity), or to a shipment "
    "of yours collecting at the hub (422 `shipment_from_hub` for any other). A dispatch "
    "larger than the lot's stock, its free part or what is left of its match, an intake "
    "over a capacity or over what is left of its match, or a match in another state answers "
    "409 and records nothing. Answers 201 with the movement and its `Location`.",
    responses=_hub_problems(
        *WRITE,
        says={
            409: f"{_NOT_A_HUB}; or the movement would take more than the lot holds, put "
            "more than the capacity or move more than is left of its match, or its match is "
            "not in a state it serves; or an Idempotency-Key reused with another body"
        },
    ),
)
async def create_movement(
    hub_id: uuid.UUID,
    data: MovementCreate,
    principal: CurrentPrincipal,
    session: Session,
    response: Response,
) -> Movement:
    movement = await record_movement(session, principal, hub_id, data)
    response.headers["Location"] = f"/v1/hubs/{hub_id}/movements/{movement.id}"
    return movement


@router.get(
    "/{hub_id}/movements",
    summary="The hub's movements, newest first",
    description="Every intake and dispatch of the hub (role hub_operator), newest first, a "
    "page at a time: follow the `next` link while there is one.",
    responses=_hub_problems(),
)
async def read_movements(
    request: Request, hub_id: uuid.UUID, principal: CurrentPrincipal, session: Session, page: Page
) -> MovementPage:
    items = await list_movements(session, principal, hub_id, page)
    return MovementPage(items=items, links=page_links(request, page, items, creation_key))


@router.get(
    "/{hub_id}/movements/{movement_id}",
    summary="One movement",
    description="One intake or dispatch of the hub (role hub_operator), with the lot's stock "
    "after it.",
    responses=_hub_problems(says={404: f"{_NOT_YOURS}; or no movement of this hub has this id"}),
)
async def read_movement(
    hub_id: uuid.UUID, movement_id: uuid.UUID, principal: CurrentPrincipal, session: Session
) -> Movement:
    return await get_movement(session, principal, hub_id, movement_id)


@router.get(
    "/{hub_id}/stock",
    summary="Stock per lot: the sum of its movements",
    description="Each lot of the hub with its stock, the part held for accepted matches and "
    "the part free, and the hub's totals against its capacities (role hub_operator).",
    responses=_hub_problems(),
)
async def read_stock(hub_id: uuid.UUID, principal: CurrentPrincipal, session: Session) -> Stock:
    return await hub_stock(session, principal, hub_id)


@router.get(
    "/{hub_id}/pooling",
    summary="Whether stock and nearby offers together reach a threshold",
    description="Per material family: the tonnes in stock, the tonnes other organizations "
    "still offer within the radius, and whether together they reach the threshold you set "
    "(PUT /v1/hubs/{id}). The event `hub.threshold_reached` fires when a pool crosses it "
    "(role hub_operator).",
    responses=_hub_problems(),
)
async def read_pooling(
    hub_id: uuid.UUID,
    principal: CurrentPrincipal,
    session: Session,
    material: Annotated[
        str | None, Query(description="An EWC code, sub-chapter or chapter.", examples=["1701"])
    ] = None,
    radius_km: Annotated[
        float,
        Query(
            gt=0,
            le=100,
            allow_inf_nan=False,
            description="For families without a threshold of yours.",
        ),
    ] = 10,
) -> Pooling:
    return await hub_pooling(session, principal, hub_id, material, radius_km)
