import uuid

from fastapi import APIRouter, Depends, Response, status

from app.auth import CurrentPrincipal, require_admin
from app.dependencies import Session
from app.errors import PROBLEM_RESPONSES
from app.kit.idempotency import IdempotencyKey
from app.organizations import service
from app.organizations.schemas import Organization, OrganizationCreate, OrganizationCreated

router = APIRouter(prefix="/v1/organizations", tags=["organizations"], responses=PROBLEM_RESPONSES)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    dependencies=[Depends(require_admin), IdempotencyKey],
    summary="Create an organization (admin token); answers its API key once",
)
async def create_organization(
    data: OrganizationCreate, session: Session, response: Response
) -> OrganizationCreated:
    organization, api_key = await service.create_organization(session, data)
    response.headers["Location"] = f"/v1/organizations/{organization.id}"
    return OrganizationCreated.model_validate({**organization.__dict__, "api_key": api_key})


@router.get("/me", summary="The organization behind your API key")
async def read_my_organization(principal: CurrentPrincipal, session: Session) -> Organization:
    organization = await service.get_organization(session, principal.organization_id)
    return Organization.model_validate(organization, from_attributes=True)


@router.get("/{organization_id}", summary="An organization's public profile")
async def read_organization(
    organization_id: uuid.UUID, _: CurrentPrincipal, session: Session
) -> Organization:
    organization = await service.get_organization(session, organization_id)
    return Organization.model_validate(organization, from_attributes=True)
