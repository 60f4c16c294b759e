from datetime import date

from sqlalchemy import ColumnElement, literal, or_
from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.pagination import PageParams
from app.kit.principal import Principal
from app.kit.spatial import NearParams
from app.listings import ListingKind, list_listings
from app.materials.service import check_request_material
from app.models import MaterialRequest
from app.requests.schemas import RequestStatus, RequestStored

REQUESTS = ListingKind(
    model=MaterialRequest,
    noun="request",
    roles=("consumer", "hub_operator"),
    check_material=check_request_material,
    plain_fields=frozenset(
        {
            "title",
            "description",
            "needed_from",
            "needed_by",
            "max_distance_km",
            "min_condition",
            "max_price_per_unit",
            "notes",
            "status",
        }
    ),
    stored_schema=RequestStored,
)


async def list_requests(
    session: AsyncSession,
    principal: Principal,
    page: PageParams,
    *,
    near: NearParams,
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
    return await list_listings(
        REQUESTS,
        session,
        principal,
        filters,
        near=near,
        page=page,
        status=status.value if status else None,
        mine=mine,
    )
