import uuid
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.geo import Point, PointIn, locate
from app.kit.owned import OwnedRows
from app.kit.pagination import PageParams
from app.kit.principal import Principal
from app.kit.problems import Conflict, ValidationFailed
from app.kit.spatial import NearParams, near_query, run_near_query
from app.models import Site
from app.settings import Settings
from app.sites.schemas import SiteCreate, SiteUpdate

SITES = OwnedRows(Site, "site")


async def create_site(
    session: AsyncSession, settings: Settings, principal: Principal, data: SiteCreate
) -> Site:
    site = Site(
        id=uuid.uuid4(),
        organization_id=principal.organization_id,
        location=await locate(session, data.location, settings.service_area_buffer_km),
        **data.model_dump(exclude={"location"}),
    )
    session.add(site)
    await session.flush()
    return site


async def get_site(session: AsyncSession, principal: Principal, site_id: uuid.UUID) -> Site:
    return await SITES.readable(session, principal, site_id)


async def list_sites(
    session: AsyncSession,
    principal: Principal,
    near: NearParams,
    page: PageParams,
) -> list[tuple[Site, float | None]]:
    query = near_query(Site, [Site.organization_id == principal.organization_id], near, page)
    return await run_near_query(session, query)


def _as_input(site: Site) -> dict[str, Any]:
    return {
        "name": site.name,
        "kind": site.kind,
        "address": site.address,
        "location": Point.model_validate(site.location).model_dump(),
        "opening_hours": site.opening_hours,
        "access_notes": site.access_notes,
    }


async def update_site(
    session: AsyncSession,
    settings: Settings,
    principal: Principal,
    site_id: uuid.UUID,
    patch: SiteUpdate,
    if_match: str | None,
) -> Site:
    site = await SITES.writable(session, principal, site_id, if_match)
    merged = SITES.patched(SiteCreate, _as_input(site), patch)
    changed = patch.model_fields_set
    if "location" in changed:
        site.location = await locate(session, merged.location, settings.service_area_buffer_km)
    for field in changed - {"location"}:
        setattr(site, field, getattr(merged, field))
    await SITES.flush(session)
    return site


async def delete_site(
    session: AsyncSession, principal: Principal, site_id: uuid.UUID, if_match: str | None
) -> None:
    site = await SITES.writable(session, principal, site_id, if_match)
    try:
        # A savepoint: the refused delete leaves the request's transaction usable.
        async with session.begin_nested():
            await session.delete(site)
    except IntegrityError:
        raise Conflict(
            "Offers or requests still name this site: delete or move them first."
        ) from None


async def place_of(
    session: AsyncSession,
    settings: Settings,
    principal: Principal,
    site_id: uuid.UUID | None,
    location: PointIn | None,
    site_field: str = "site_id",
    point_field: str = "location",
) -> Any:
    """Where a thing lies: the given point, else its site's location. The site must be one of
    the organization's own. The fields that give them are named in what is refused."""
    if site_id is not None:
        site = await session.get(Site, site_id)
        if site is None or site.organization_id != principal.organization_id:
            raise ValidationFailed.field(
                site_field, "own_site", f"No site {site_id} in your organization."
            )
        if location is None:
            return site.location
    if location is None:
        raise ValidationFailed.field(
            point_field, "site_or_location", f"Give a {site_field} or a {point_field}."
        )
    return await locate(session, location, settings.service_area_buffer_km, point_field)
