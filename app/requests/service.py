import uuid
from datetime import date

from sqlalchemy import ColumnElement, literal, or_
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import Principal
from app.kit.ownership import load_readable, load_writable
from app.kit.pagination import PageParams
from app.kit.spatial import near_query, run_near_query
from app.listings import REQUEST_PLAIN_FIELDS, new_listing, patch_listing
from app.materials.service import check_request_material
from app.models import MaterialRequest
from app.requests.schemas import RequestCreate, RequestStatus, RequestStored, RequestUpdate
from app.settings import Settings

NOUN = "request"
DEMAND_ROLES = ("consumer", "hub_operator")


async def create_request(
    session: AsyncSession, settings: Settings, principal: Principal, data: RequestCreate
) -> MaterialRequest:
    principal.require_role(*DEMAND_ROLES)
    material_request: MaterialRequest = await new_listing(
        MaterialRequest,
        session,
        settings,
        principal,
        data,
        check_request_material,
        REQUEST_PLAIN_FIELDS,
    )
    return material_request


async def get_request(
    session: AsyncSession, principal: Principal, request_id: uuid.UUID
) -> MaterialRequest:
    return await load_readable(
        session, MaterialRequest, request_id, principal, public=True, noun=NOUN
    )


async def list_requests(
    session: AsyncSession,
    principal: Principal,
    page: PageParams,
    *,
    near: tuple[float, float] | None,
    radius_km: float | None,
    material: str | None,
    needed_on: date | None,
    status: RequestStatus | None,
    mine: bool,
) -> list[tuple[MaterialRequest, float | None]]:
    filters: list[ColumnElement[bool]] = []
    if material is not None:
        # Requests for the family named and requests for a wider family that includes it.
        code = await check_request_material(session, material)
        filters.append(
            or_(
                MaterialRequest.material.startswith(code),
                literal(code).startswith(MaterialRequest.material),
            )
        )
    if needed_on is not None:
        filters.append(MaterialRequest.needed_from <= needed_on)
        filters.append(MaterialRequest.needed_by >= needed_on)
    if status is not None:
        filters.append(MaterialRequest.status == status.value)
    if mine:
        filters.append(MaterialRequest.organization_id == principal.organization_id)
    return await run_near_query(
        session, near_query(MaterialRequest, filters, near, radius_km, page)
    )


async def update_request(
    session: AsyncSession,
    settings: Settings,
    principal: Principal,
    request_id: uuid.UUID,
    patch: RequestUpdate,
    if_match: str | None,
) -> MaterialRequest:
    material_request = await load_writable(
        session, MaterialRequest, request_id, principal, public=True, noun=NOUN, if_match=if_match
    )
    await patch_listing(
        material_request,
        session,
        settings,
        principal,
        patch,
        RequestStored,
        check_request_material,
        REQUEST_PLAIN_FIELDS,
        NOUN,
    )
    return material_request


async def delete_request(
    session: AsyncSession, principal: Principal, request_id: uuid.UUID, if_match: str | None
) -> None:
    material_request = await load_writable(
        session, MaterialRequest, request_id, principal, public=True, noun=NOUN, if_match=if_match
    )
    await session.delete(material_request)
    await session.commit()
