import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response, status
from fastapi.responses import JSONResponse

from app.auth import CurrentPrincipal
from app.gateway.idempotency import IdempotencyKey
from app.kit.geo import GEOJSON_MEDIA_TYPE, GeoJSONResponse
from app.kit.pagination import Page, creation_key, page_links
from app.kit.problem_docs import AUTHENTICATED, JOB_QUOTA, WRITE, problems
from app.kit.request_session import Session
from app.route_plans import service
from app.route_plans.geojson import route_plan_geojson
from app.route_plans.schemas import (
    PlanStatus,
    RoutePlan,
    RoutePlanCreate,
    RoutePlanPage,
    route_plan_view,
)
from app.settings import AppSettings

router = APIRouter(prefix="/v1/route-plans", tags=["logistics"])

_NO_PLAN = {404: "No such route plan of your organization."}


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    dependencies=[IdempotencyKey],
    responses=problems(
        *AUTHENTICATED,
        *WRITE,
        403,
        404,
        says={
            403: "Planning needs the role carrier or hub_operator",
            404: "A vehicle, shipment or hub site named by id is not your organization's",
            422: "A field breaks a rule, an inline vehicle or shipment does (named by its place, "
            "`vehicles.0.start`), or the plan is too large (`max_shipments`, `max_vehicles`, "
            "`max_profiles`)",
            429: JOB_QUOTA,
        },
    ),
    summary="Plan the rounds of a day (role carrier or hub_operator); runs as a job",
    description="Freezes the vehicles and shipments (by id, or inline) into the plan's inputs "
    "and queues the planning: 202 with `Location`, the plan `queued`. Poll "
    "`GET /v1/route-plans/{id}`: `running` with its `progress`, then `done` with its `result` "
    "(routes with stop times and loads, unassigned shipments with a reason, km, CO2e, the "
    "van baseline and the saving), or `failed` with an `error` a person can act on. "
    "`mode: two_tier` with `hubs` plans vans to the hubs and cargo bikes from them, where "
    "that is cheaper. An organization has at most 2 plans and matching runs queued or running "
    "at once (429 with `Retry-After`).",
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


@router.get(
    "",
    summary="Your organization's route plans, newest first",
    description="Every plan your organization asked for, newest first, with its status, its "
    "progress while running and its result when done; `status` keeps one status. Paginated "
    "with `limit` and `cursor` (the `next` link).",
    responses=problems(*AUTHENTICATED, 422),
)
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
    description="The plan as its owner reads it: `queued`, `running` (with `progress`: phase, "
    "elapsed seconds, the search's time and the best plan found so far), `done` (with `result`), `failed` (with `error`) or "
    "`cancelled`. With `format=geojson`, a FeatureCollection for a map: each route a "
    "LineString, each stop a Point with its times and load, each hub hand-over a Point.",
    response_model=RoutePlan,
    responses={
        200: {
            "content": {
                GEOJSON_MEDIA_TYPE: {
                    "schema": {"$ref": "#/components/schemas/RoutePlanFeatureCollection"}
                }
            },
            "description": "JSON, or GeoJSON with format=geojson",
        },
        **problems(*AUTHENTICATED, 404, 422, says=_NO_PLAN),
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
    responses={
        202: {
            "description": "Running: asked to stop; poll it until `cancelled`.",
            "model": RoutePlan,
        },
        **problems(
            *AUTHENTICATED,
            404,
            409,
            422,
            says={**_NO_PLAN, 409: "The plan is over: done, failed or cancelled"},
        ),
    },
)
async def cancel_plan(
    plan_id: uuid.UUID, principal: CurrentPrincipal, session: Session, response: Response
) -> RoutePlan:
    row = await service.cancel_plan(session, principal, plan_id)
    if row.status == PlanStatus.running.value:
        response.status_code = status.HTTP_202_ACCEPTED
    return route_plan_view(row)
