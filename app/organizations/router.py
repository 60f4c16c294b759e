import uuid
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, Response, status

from app.auth import Credentials, CurrentPrincipal, current_principal, require_admin
from app.dependencies import AppSettings, Session
from app.errors import PROBLEM_RESPONSES, ValidationFailed
from app.kit.idempotency import IdempotencyKey
from app.kit.pagination import Page, creation_key, page_links
from app.models import ApiKey as ApiKeyRow
from app.organizations import service
from app.organizations.schemas import (
    ApiKey,
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyPage,
    Organization,
    OrganizationCreate,
    OrganizationCreated,
)

router = APIRouter(prefix="/v1/organizations", tags=["organizations"], responses=PROBLEM_RESPONSES)

# A response holding a secret shown once: no cache keeps it, nor the idempotency records.
_SHOWN_ONCE = {"Cache-Control": "no-store"}


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
    response.headers.update({"Location": f"/v1/organizations/{organization.id}", **_SHOWN_ONCE})
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


@dataclass(frozen=True)
class KeyOwner:
    organization_id: uuid.UUID
    # The admin token acts: it may revoke an organization's last key (a key leaked, say).
    by_admin: bool


async def key_owner(
    organization: Annotated[
        str,
        Path(
            description="`me` with one of your API keys, or an organization's id with the "
            "admin token."
        ),
    ],
    request: Request,
    credentials: Credentials,
    session: Session,
) -> KeyOwner:
    if organization == "me":
        principal = await current_principal(credentials, session)
        return KeyOwner(principal.organization_id, by_admin=False)
    require_admin(request, credentials)
    try:
        return KeyOwner(uuid.UUID(organization), by_admin=True)
    except ValueError:
        raise ValidationFailed.field(
            "organization", "uuid_parsing", "Use `me` or an organization's id.", "path"
        ) from None


Owner = Annotated[KeyOwner, Depends(key_owner)]


def _key(row: ApiKeyRow) -> ApiKey:
    return ApiKey.model_validate(row, from_attributes=True)


@router.post(
    "/{organization}/keys",
    status_code=status.HTTP_201_CREATED,
    dependencies=[IdempotencyKey],
    summary="A new API key; answers it once",
    description="An organization has at most 10 active keys by default: one more answers 422 "
    "with the rule `max_keys`. The key is in this answer only (`Cache-Control: no-store`); "
    "boucle keeps its hash and a short prefix to recognise it.",
)
async def create_key(
    data: ApiKeyCreate,
    owner: Owner,
    session: Session,
    settings: AppSettings,
    response: Response,
) -> ApiKeyCreated:
    row, api_key = await service.create_key(session, settings, owner.organization_id, data)
    organization = owner.organization_id if owner.by_admin else "me"
    response.headers.update(
        {"Location": f"/v1/organizations/{organization}/keys/{row.id}", **_SHOWN_ONCE}
    )
    return ApiKeyCreated.model_validate({**_key(row).model_dump(), "api_key": api_key})


@router.get("/{organization}/keys", summary="The API keys, revoked ones too, newest first")
async def list_keys(request: Request, owner: Owner, session: Session, page: Page) -> ApiKeyPage:
    rows = await service.list_keys(session, owner.organization_id, page)
    return ApiKeyPage(
        items=[_key(r) for r in rows], links=page_links(request, page, rows, creation_key)
    )


@router.get("/{organization}/keys/{key_id}", summary="One API key (never the key itself)")
async def read_key(key_id: uuid.UUID, owner: Owner, session: Session) -> ApiKey:
    return _key(await service.get_key(session, owner.organization_id, key_id))


@router.delete(
    "/{organization}/keys/{key_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Revoke an API key, at once",
    description="The next request with the key answers 401. A key that is already revoked, "
    "or of another organization, answers 404. An organization may revoke the key it is "
    "using, but not its last active key (409: create another first); the admin token may.",
)
async def revoke_key(key_id: uuid.UUID, owner: Owner, session: Session) -> None:
    await service.revoke_key(session, owner.organization_id, key_id, keep_last=not owner.by_admin)
