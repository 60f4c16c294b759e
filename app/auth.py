"""API keys and the identity behind a request."""

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import get_session
from app.errors import Forbidden, Unauthorized
from app.models import ApiKey, Organization
from app.settings import Settings

API_KEY_PREFIX = "bk_"

bearer = HTTPBearer(auto_error=False, description="An organization's API key, or the admin token.")


def new_api_key() -> tuple[str, str]:
    """A fresh key and the hash stored for it. Keys carry 256 random bits, so one SHA-256
    (no slow KDF) is enough to make the stored hash useless to a reader of the database."""
    key = API_KEY_PREFIX + secrets.token_urlsafe(32)
    return key, hash_credential(key)


def hash_credential(credential: str) -> str:
    return hashlib.sha256(credential.encode()).hexdigest()


@dataclass(frozen=True)
class Principal:
    organization_id: uuid.UUID
    roles: tuple[str, ...]

    def require_role(self, *roles: str) -> None:
        if not set(roles) & set(self.roles):
            raise Forbidden(
                f"This needs the role {' or '.join(roles)}; your organization has "
                f"{', '.join(self.roles) or 'no role'}.",
                required_roles=list(roles),
            )


Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


def _token(credentials: HTTPAuthorizationCredentials | None) -> str:
    if credentials is None or not credentials.credentials:
        raise Unauthorized("Send your API key as `Authorization: Bearer <api key>`.")
    return credentials.credentials


async def current_principal(
    credentials: Credentials, session: Annotated[AsyncSession, Depends(get_session)]
) -> Principal:
    token = _token(credentials)
    row = (
        await session.execute(
            select(Organization.id, Organization.roles)
            .join(ApiKey, ApiKey.organization_id == Organization.id)
            .where(ApiKey.key_hash == hash_credential(token), ApiKey.revoked_at.is_(None))
        )
    ).one_or_none()
    if row is None:
        raise Unauthorized("This API key is unknown or revoked.")
    return Principal(organization_id=row.id, roles=tuple(row.roles))


def require_admin(request: Request, credentials: Credentials) -> None:
    token = _token(credentials)
    settings: Settings = request.app.state.settings
    admin = settings.admin_token.get_secret_value() if settings.admin_token else None
    if not admin or not hmac.compare_digest(token.encode(), admin.encode()):
        raise Forbidden("Only the admin token may do this.")


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
