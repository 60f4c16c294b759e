import uuid

from fastapi import APIRouter, Request, Response, status

from app.auth import CurrentPrincipal
from app.gateway.idempotency import IdempotencyKey
from app.kit.etag import IfMatch
from app.kit.geo import GeoJSONResponse, feature_page, feature_properties
from app.kit.owned import answer
from app.kit.pagination import Page
from app.kit.problem_docs import AUTHENTICATED, WRITE, problems
from app.kit.request_session import Session
from app.kit.spatial import Near
from app.models import Site as SiteRow
from app.settings import AppSettings
from app.sites import service
from app.sites.schemas import (
    Site,
    SiteCreate,
    SiteFeature,
    SiteFeatureCollection,
    SiteFeatureProperties,
    SiteUpdate,
    site_view,
)

router = APIRouter(prefix="/v1/sites", tags=["sites"])
_NO_SITE = {404: "No site of your organization with this id (another's is not shown)."}


def _feature(row: SiteRow, distance_m: float | None) -> SiteFeature:
    site = site_view(row)
    return SiteFeature(
        id=str(site.id),
        geometry=site.location,
        properties=feature_properties(site, distance_m, SiteFeatureProperties),
    )


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    dependencies=[IdempotencyKey],
    summary="Create a site of your organization",
    description="A place of your organization: where offers lie, requests are delivered, "
    "vehicles start and yards keep stock. Answers 201 with the site, its `ETag` and its "
    "`Location`. A point outside the service area answers 422 `within_service_area`. Any "
    "organization may create sites; only it sees them.",
    responses=problems(*AUTHENTICATED, *WRITE),
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
    return answer(response, row, site_view)


@router.get(
    "",
    response_class=GeoJSONResponse,
    response_model=SiteFeatureCollection,
    summary="Your organization's sites, as GeoJSON",
    description="Your organization's sites as a GeoJSON FeatureCollection "
    "(`application/geo+json`), oldest first, or nearest first with `near` (and within "
    "`radius_km` of it when given), each with its `distance_m`. A full page has a `next` "
    "link. Another organization's sites never appear.",
    responses=problems(*AUTHENTICATED, 422),
)
async def list_sites(
    request: Request,
    principal: CurrentPrincipal,
    session: Session,
    page: Page,
    near: Near,
) -> GeoJSONResponse:
    rows = await service.list_sites(session, principal, near, page)
    return feature_page(request, rows, page, _feature, SiteFeatureCollection)


@router.get(
    "/{site_id}",
    summary="One of your sites",
    description="The site with its `ETag`. Another organization's site answers 404, as a "
    "site that does not exist: sites are private.",
    responses=problems(*AUTHENTICATED, 422, says=_NO_SITE),
)
async def read_site(
    site_id: uuid.UUID, principal: CurrentPrincipal, session: Session, response: Response
) -> Site:
    return answer(response, await service.get_site(session, principal, site_id), site_view)


@router.patch(
    "/{site_id}",
    summary="Change a site (send `If-Match` with its ETag)",
    description="Changes the fields sent; the result follows the rules of a create. With "
    "`If-Match`, a site changed since you read it answers 412 and stays as it was. Moving a "
    "site does not move the offers and requests placed at it before.",
    responses=problems(*AUTHENTICATED, 400, 412, 413, 422, says=_NO_SITE),
)
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
    return answer(response, row, site_view)


@router.delete(
    "/{site_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a site",
    description="Deletes one of your sites; 204 on success. A site that offers or requests "
    "still name answers 409: move or delete them first. With `If-Match`, a site changed "
    "since you read it answers 412.",
    responses=problems(
        *AUTHENTICATED,
        412,
        422,
        says={**_NO_SITE, 409: "Offers or requests still name this site."},
    ),
)
async def delete_site(
    site_id: uuid.UUID, principal: CurrentPrincipal, session: Session, if_match: IfMatch = None
) -> None:
    await service.delete_site(session, principal, site_id, if_match)
