import uuid
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, Response, status

from app.auth import (
    AuthenticatedKey,
    Credentials,
    CurrentPrincipal,
    authenticated_key,
    require_admin,
)
from app.gateway.idempotency import IdempotencyKey
from app.kit.pagination import Page, creation_key, page_links
from app.kit.problem_docs import AUTHENTICATED, WRITE, problems
from app.kit.problems import ValidationFailed
from app.kit.request_session import Session
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
    OrganizationPage,
)
from app.settings import AppSettings

router = APIRouter(prefix="/v1/organizations", tags=["organizations"])
_ADMIN_ONLY = {403: "Only the admin token may do this (an organization's key may not)."}
_KEY_OWNER = {
    403: "An organization's id in the path needs the admin token; use `me` with your own key."
}
_NO_ORGANIZATION = {404: "No organization with this id."}
_NO_KEY = {404: "No such API key in this organization, or no such organization."}

# A response holding a secret shown once: no cache keeps it, nor the idempotency records.
_SHOWN_ONCE = {"Cache-Control": "no-store"}


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    dependencies=[Depends(require_admin), IdempotencyKey],
    summary="Create an organization (admin token); answers its API key once",
    description="Creates an organization with its roles and its first API key, and answers "
    "201 with the key, in this answer only (`Cache-Control: no-store`); boucle keeps its "
    "hash. Only the admin token may (403 with an organization's key). The same "
    "Idempotency-Key again answers 409 `secret-shown-once`, naming what was created, rather "
    "than the key.",
    responses=problems(*AUTHENTICATED, *WRITE, says=_ADMIN_ONLY),
)
async def create_organization(
    data: OrganizationCreate, session: Session, response: Response
) -> OrganizationCreated:
    organization, api_key = await service.create_organization(session, data)
    response.headers.update({"Location": f"/v1/organizations/{organization.id}", **_SHOWN_ONCE})
    return OrganizationCreated.model_validate({**organization.__dict__, "api_key": api_key})


@router.get(
    "",
    dependencies=[Depends(require_admin)],
    summary="Every organization, newest first (admin token)",
    description="Every organization's public profile (id, name, roles, created_at; never a "
    "key), newest first; a full page has a `next` link. Only the admin token may list them: "
    "an organization's key answers 403, no key 401.",
    responses=problems(*AUTHENTICATED, 422, says=_ADMIN_ONLY),
)
async def list_organizations(request: Request, session: Session, page: Page) -> OrganizationPage:
    rows = await service.list_organizations(session, page)
    return OrganizationPage(
        items=[Organization.model_validate(r, from_attributes=True) for r in rows],
        links=page_links(request, page, rows, creation_key),
    )


@router.get(
    "/me",
    summary="The organization behind your API key",
    description="Your organization's profile: its id, name, roles and creation time. A "
    "missing, unknown or revoked key answers 401.",
    responses=problems(*AUTHENTICATED),
)
async def read_my_organization(key: AuthenticatedKey) -> Organization:
    # The key's lookup read the organization too: no other round trip.
    return Organization(
        id=key.organization_id,
        name=key.organization_name,
        roles=list(key.roles),
        created_at=key.organization_created_at,
    )


@router.get(
    "/{organization_id}",
    summary="An organization's public profile",
    description="Any organization's id, name, roles and creation time, for any key: an "
    "offer's or a request's `organization_id` leads here. Never its keys.",
    responses=problems(*AUTHENTICATED, 422, says=_NO_ORGANIZATION),
)
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
) -> KeyOwner:
    if organization == "me":
        key = await authenticated_key(request, credentials)
        return KeyOwner(key.organization_id, by_admin=False)
    await require_admin(request, credentials)
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
    "boucle keeps its hash and a short prefix to recognise it. `me` issues one of your own "
    "organization's; an organization's id needs the admin token (403).",
    responses=problems(
        *AUTHENTICATED,
        *WRITE,
        says={
            **_KEY_OWNER,
            **_NO_ORGANIZATION,
            409: "An Idempotency-Key reused: with another body, or for this very request "
            "(`secret-shown-once`: the key is never shown twice).",
        },
    ),
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


@router.get(
    "/{organization}/keys",
    summary="The API keys, revoked ones too, newest first",
    description="The keys of your organization (`me`) or, with the admin token, of the "
    "organization named: id, name, prefix, created_at, last_used_at and revoked_at, never the "
    "key; a full page has a `next` link.",
    responses=problems(*AUTHENTICATED, 422, says={**_KEY_OWNER, **_NO_ORGANIZATION}),
)
async def list_keys(request: Request, owner: Owner, session: Session, page: Page) -> ApiKeyPage:
    rows = await service.list_keys(session, owner.organization_id, page)
    return ApiKeyPage(
        items=[_key(r) for r in rows], links=page_links(request, page, rows, creation_key)
    )


@router.get(
    "/{organization}/keys/{key_id}",
    summary="One API key (never the key itself)",
    description="One key of your organization (`me`) or, with the admin token, of the "
    "organization named. Another organization's key answers 404.",
    responses=problems(*AUTHENTICATED, 422, says={**_KEY_OWNER, **_NO_KEY}),
)
async def read_key(key_id: uuid.UUID, owner: Owner, session: Session) -> ApiKey:
    return _key(await service.get_key(session, owner.organization_id, key_id))


@router.delete(
    "/{organization}/keys/{key_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Revoke an API key, at once",
    description="The next request with the key answers 401. A key that is already revoked, "
    "or of another organization, answers 404. An organization may revoke the key it is "
    "using, but not its last active key (409: create another first); the admin token may.",
    responses=problems(
        *AUTHENTICATED,
        422,
        says={
            **_KEY_OWNER,
            **_NO_KEY,
            409: "It is your organization's last active key: create another first.",
        },
    ),
)
async def revoke_key(request: Request, key_id: uuid.UUID, owner: Owner, session: Session) -> None:
    await service.revoke_key(session, owner.organization_id, key_id, keep_last=not owner.by_admin)
    # Before the revocation commits: no request of this process uses what it kept of the key
    # once the answer is sent (the others forget it on the database's notification).
    request.app.state.grants.forget_all()
