import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response, status
from fastapi.responses import JSONResponse

from app.auth import CurrentPrincipal
from app.dependencies import AppSettings, Session
from app.errors import JOB_QUOTA_RESPONSES, PROBLEM_RESPONSES
from app.kit.geo import GEOJSON_MEDIA_TYPE, GeoJSONResponse
from app.kit.idempotency import IdempotencyKey
from app.kit.pagination import Page, creation_key, page_links
from app.route_plans import service
from app.route_plans.geojson import route_plan_geojson
from app.route_plans.schemas import (
    PlanStatus,
    RoutePlan,
    RoutePlanCreate,
    RoutePlanPage,
    route_plan_view,
)

router = APIRouter(prefix="/v1/route-plans", tags=["logistics"], responses=PROBLEM_RESPONSES)


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    dependencies=[IdempotencyKey],
    responses=JOB_QUOTA_RESPONSES,
    summary="Plan the rounds of a day (role carrier or hub_operator); runs as a job",
)
async def start_plan(
    data: RoutePlanCreate,
    principal: CurrentPrincipal,
    session: Session,
    settings: AppSettings,
    response: Response,
) -> RoutePlan:
    row = await service.start_plan(session, settings, principal, data)
    response.headers["Location"] = f"/v1/route-plans/{row.id}"
    return route_plan_view(row)


@router.get("", summary="Your organization's route plans, newest first")
async def list_plans(
    request: Request,
    principal: CurrentPrincipal,
    session: Session,
    page: Page,
    status: PlanStatus | None = None,
) -> RoutePlanPage:
    rows = await service.list_plans(session, principal, page, status)
    return RoutePlanPage(
        items=[route_plan_view(r) for r in rows],
        links=page_links(request, page, rows, creation_key),
    )


@router.get(
    "/{plan_id}",
    summary="A route plan: its status, then routes, unassigned shipments, KPIs and the baseline",
    response_model=RoutePlan,
    responses={
        200: {
            "content": {GEOJSON_MEDIA_TYPE: {}},
            "description": "JSON, or GeoJSON with format=geojson",
        }
    },
)
async def read_plan(
    plan_id: uuid.UUID,
    principal: CurrentPrincipal,
    session: Session,
    format: Annotated[
        Literal["json", "geojson"], Query(description="geojson: a FeatureCollection for a map.")
    ] = "json",
) -> RoutePlan | JSONResponse:
    row = await service.get_plan(session, principal, plan_id)
    if format == "geojson":
        return GeoJSONResponse(route_plan_geojson(row))
    return route_plan_view(row)


@router.post(
    "/{plan_id}/cancel",
    dependencies=[IdempotencyKey],
    summary="Cancel a queued or running plan",
    description="A queued plan is `cancelled` at once (200). A running one is asked to stop "
    "(202, `cancel_requested_at` set): its worker stops the search within a second and the "
    "plan is then `cancelled`, with no result; should the search end first, it stays `done`. "
    "A plan that is over (done, failed, cancelled) answers 409. Only its owner may cancel it.",
    status_code=status.HTTP_200_OK,
    responses={202: {"description": "Running: asked to stop; poll it until `cancelled`."}},
)
async def cancel_plan(
    plan_id: uuid.UUID, principal: CurrentPrincipal, session: Session, response: Response
) -> RoutePlan:
    row = await service.cancel_plan(session, principal, plan_id)
    if row.status == PlanStatus.running.value:
        response.status_code = status.HTTP_202_ACCEPTED
    return route_plan_view(row)
