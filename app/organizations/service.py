import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import new_api_key
from app.errors import NotFound
from app.models import ApiKey, Organization
from app.organizations.schemas import OrganizationCreate


async def create_organization(
    session: AsyncSession, data: OrganizationCreate, organization_id: uuid.UUID | None = None
) -> tuple[Organization, str]:
    """The new organization and its first API key, in clear for the only time."""
    organization = Organization(
        id=organization_id or uuid.uuid4(),
        name=data.name,
        roles=sorted({r.value for r in data.roles}),
    )
    key, key_hash = new_api_key()
    session.add(organization)
    await session.flush()
    session.add(ApiKey(organization_id=organization.id, key_hash=key_hash))
    await session.commit()
    return organization, key


async def get_organization(session: AsyncSession, organization_id: uuid.UUID) -> Organization:
    organization = await session.get(Organization, organization_id)
    if organization is None:
        raise NotFound("No such organization.")
    return organization
