import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status

from app.auth import CurrentPrincipal
from app.dependencies import Session
from app.errors import PROBLEM_RESPONSES
from app.hubs.access import load_hub
from app.hubs.capacity import hub_view, set_hub_settings
from app.hubs.movements import get_movement, list_movements, record_movement
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
from app.hubs.stock import hub_stock
from app.kit.etag import IfMatch, set_etag
from app.kit.idempotency import IdempotencyKey
from app.kit.pagination import Page, creation_key, page_links

router = APIRouter(prefix="/v1/hubs", tags=["hubs"], responses=PROBLEM_RESPONSES)


@router.get("/{hub_id}", summary="One of your yards or hubs, with its capacity and thresholds")
async def read_hub(
    hub_id: uuid.UUID, principal: CurrentPrincipal, session: Session, response: Response
) -> Hub:
    hub = await load_hub(session, principal, hub_id)
    set_etag(response, hub.version)
    return await hub_view(session, hub)


@router.put(
    "/{hub_id}",
    summary="Set a hub's capacity and pooling thresholds",
    description="Replaces both. With `If-Match` (the ETag of GET /v1/hubs/{id}), a hub changed "
    "since that read answers 412 and nothing is changed.",
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
    description="Movements are append-only; the stock is their sum. A dispatch larger than the "
    "lot's stock, or an intake over a capacity, answers 409 and records nothing.",
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


@router.get("/{hub_id}/movements", summary="The hub's movements, newest first")
async def read_movements(
    request: Request, hub_id: uuid.UUID, principal: CurrentPrincipal, session: Session, page: Page
) -> MovementPage:
    items = await list_movements(session, principal, hub_id, page)
    return MovementPage(items=items, links=page_links(request, page, items, creation_key))


@router.get("/{hub_id}/movements/{movement_id}", summary="One movement")
async def read_movement(
    hub_id: uuid.UUID, movement_id: uuid.UUID, principal: CurrentPrincipal, session: Session
) -> Movement:
    return await get_movement(session, principal, hub_id, movement_id)


@router.get("/{hub_id}/stock", summary="Stock per lot: the sum of its movements")
async def read_stock(hub_id: uuid.UUID, principal: CurrentPrincipal, session: Session) -> Stock:
    return await hub_stock(session, principal, hub_id)


@router.get(
    "/{hub_id}/pooling",
    summary="Whether stock and nearby offers together reach a threshold",
    description="Per material family: the tonnes in stock, the tonnes other organizations "
    "still offer within the radius, and whether together they reach the threshold you set "
    "(PUT /v1/hubs/{id}). The event `hub.threshold_reached` fires when a pool crosses it.",
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
