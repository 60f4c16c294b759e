import uuid

from fastapi import APIRouter, Request, Response, status

from app.auth import CurrentPrincipal
from app.dependencies import AppSettings, Session
from app.errors import PROBLEM_RESPONSES
from app.kit.etag import IfMatch, set_etag
from app.kit.geo import FeatureCollection, GeoJSONResponse, feature_page
from app.kit.idempotency import IdempotencyKey
from app.kit.pagination import Page
from app.kit.spatial import Near
from app.models import Site as SiteRow
from app.sites import service
from app.sites.schemas import Site, SiteCreate, SiteUpdate

router = APIRouter(
    prefix="/v1/sites",
    tags=["sites"],
    responses=PROBLEM_RESPONSES,
)


def _site(row: SiteRow) -> Site:
    return Site.model_validate(row, from_attributes=True)


def _answer(response: Response, row: SiteRow) -> Site:
    set_etag(response, row.version)
    return _site(row)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    dependencies=[IdempotencyKey],
    summary="Create a site of your organization",
)
async def create_site(
    data: SiteCreate,
    principal: CurrentPrincipal,
    session: Session,
    settings: AppSettings,
    response: Response,
) -> Site:
    row = await service.create_site(session, settings, principal, data)
    response.headers["Location"] = f"/v1/sites/{row.id}"
    return _answer(response, row)


@router.get(
    "",
    response_class=GeoJSONResponse,
    response_model=FeatureCollection,
    summary="Your organization's sites, as GeoJSON",
)
async def list_sites(
    request: Request,
    principal: CurrentPrincipal,
    session: Session,
    page: Page,
    near: Near,
) -> GeoJSONResponse:
    rows = await service.list_sites(session, principal, near, page)
    return feature_page(request, rows, page, _site)


@router.get("/{site_id}", summary="One of your sites")
async def read_site(
    site_id: uuid.UUID, principal: CurrentPrincipal, session: Session, response: Response
) -> Site:
    return _answer(response, await service.get_site(session, principal, site_id))


@router.patch("/{site_id}", summary="Change a site (send `If-Match` with its ETag)")
async def update_site(
    site_id: uuid.UUID,
    patch: SiteUpdate,
    principal: CurrentPrincipal,
    session: Session,
    settings: AppSettings,
    response: Response,
    if_match: IfMatch = None,
) -> Site:
    row = await service.update_site(session, settings, principal, site_id, patch, if_match)
    return _answer(response, row)


@router.delete("/{site_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Delete a site")
async def delete_site(
    site_id: uuid.UUID, principal: CurrentPrincipal, session: Session, if_match: IfMatch = None
) -> None:
    await service.delete_site(session, principal, site_id, if_match)
