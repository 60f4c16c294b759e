import uuid

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import new_api_key
from app.kit.pagination import PageParams, keyset_page, newest_first
from app.kit.problems import Conflict, NotFound, ValidationFailed
from app.models import ApiKey, Organization
from app.organizations.schemas import ApiKeyCreate, OrganizationCreate
from app.settings import Settings


async def create_organization(
    session: AsyncSession, data: OrganizationCreate, organization_id: uuid.UUID | None = None
) -> tuple[Organization, str]:
    """The new organization and its first API key, in clear for the only time."""
    organization = Organization(
        id=organization_id or uuid.uuid4(),
        name=data.name,
        roles=sorted({r.value for r in data.roles}),
    )
    session.add(organization)
    await session.flush()
    _, key = _add_key(session, organization.id, name=None)
    await session.flush()
    return organization, key


async def list_organizations(session: AsyncSession, page: PageParams) -> list[Organization]:
    query = select(Organization)
    return list((await session.scalars(keyset_page(query, newest_first(Organization), page))).all())


async def get_organization(session: AsyncSession, organization_id: uuid.UUID) -> Organization:
    organization = await session.get(Organization, organization_id)
    if organization is None:
        raise NotFound("No such organization.")
    return organization


def _add_key(
    session: AsyncSession, organization_id: uuid.UUID, name: str | None
) -> tuple[ApiKey, str]:
    new = new_api_key()
    row = ApiKey(
        id=uuid.uuid4(),
        organization_id=organization_id,
        name=name,
        prefix=new.prefix,
        key_hash=new.key_hash,
    )
    session.add(row)
    return row, new.key


async def _lock_organization(session: AsyncSession, organization_id: uuid.UUID) -> None:
    """Serialises the changes to one organization's keys, so that the bound on active keys
    and the last active key hold under concurrent requests."""
    locked = await session.scalar(
        select(Organization.id).where(Organization.id == organization_id).with_for_update()
    )
    if locked is None:
        raise NotFound("No such organization.")


async def _active_keys(session: AsyncSession, organization_id: uuid.UUID) -> int:
    count = await session.scalar(
        select(func.count())
        .select_from(ApiKey)
        .where(ApiKey.organization_id == organization_id, ApiKey.revoked_at.is_(None))
    )
    return int(count or 0)


async def create_key(
    session: AsyncSession, settings: Settings, organization_id: uuid.UUID, data: ApiKeyCreate
) -> tuple[ApiKey, str]:
    """A new key of the organization and the key itself, in clear for the only time."""
    await _lock_organization(session, organization_id)
    bound = settings.max_api_keys_per_organization
    if await _active_keys(session, organization_id) >= bound:
        raise ValidationFailed.field(
            "api_keys",
            "max_keys",
            f"An organization has at most {bound} active API keys and yours has them all: "
            "revoke one (DELETE /v1/organizations/me/keys/{id}) before adding another.",
        )
    row, key = _add_key(session, organization_id, data.name)
    await session.flush()
    await session.refresh(row)
    return row, key


async def list_keys(
    session: AsyncSession, organization_id: uuid.UUID, page: PageParams
) -> list[ApiKey]:
    await get_organization(session, organization_id)
    query = select(ApiKey).where(ApiKey.organization_id == organization_id)
    return list((await session.scalars(keyset_page(query, newest_first(ApiKey), page))).all())


async def get_key(session: AsyncSession, organization_id: uuid.UUID, key_id: uuid.UUID) -> ApiKey:
    row = await session.scalar(
        select(ApiKey).where(ApiKey.id == key_id, ApiKey.organization_id == organization_id)
    )
    if row is None:
        raise NotFound("No such API key in this organization.")
    return row


async def revoke_key(
    session: AsyncSession, organization_id: uuid.UUID, key_id: uuid.UUID, keep_last: bool
) -> None:
    """Revokes an active key of the organization: the next request with it answers 401.
    With `keep_last`, the organization's last active key is refused (409): revoking it would
    lock the organization out."""
    await _lock_organization(session, organization_id)
    this_key = ApiKey.id == key_id, ApiKey.organization_id == organization_id
    if (
        await session.scalar(select(ApiKey.id).where(*this_key, ApiKey.revoked_at.is_(None)))
        is None
    ):
        raise NotFound("No such active API key in this organization.")
    if keep_last and await _active_keys(session, organization_id) == 1:
        raise Conflict(
            "This is your organization's last active API key: revoking it would lock you out. "
            "Create another (POST /v1/organizations/me/keys) first."
        )
    await session.execute(update(ApiKey).where(*this_key).values(revoked_at=func.now()))
    await session.flush()
