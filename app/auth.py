"""API keys and the identity behind a request."""

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.security.utils import get_authorization_scheme_param
from sqlalchemy import Row, func, literal_column, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import get_session
from app.errors import Forbidden, Unauthorized
from app.models import ApiKey, Organization
from app.settings import Settings

API_KEY_PREFIX = "bk_"
# What a list of keys shows of each: the prefix and 6 random characters (36 of its 256 bits).
SHOWN_PREFIX_LENGTH = len(API_KEY_PREFIX) + 6

bearer = HTTPBearer(auto_error=False, description="An organization's API key, or the admin token.")


@dataclass(frozen=True)
class NewApiKey:
    key: str
    key_hash: str
    prefix: str


def new_api_key() -> NewApiKey:
    """A fresh key and what is stored of it. Keys carry 256 random bits, so one SHA-256 (no
    slow KDF) is enough to make the stored hash useless to a reader of the database."""
    key = API_KEY_PREFIX + secrets.token_urlsafe(32)
    return NewApiKey(key=key, key_hash=hash_credential(key), prefix=key[:SHOWN_PREFIX_LENGTH])


def hash_credential(credential: str) -> str:
    return hashlib.sha256(credential.encode()).hexdigest()


def bearer_token(authorization: str | None) -> str | None:
    """The credential of an `Authorization: Bearer ...` header, read as HTTPBearer reads it."""
    scheme, token = get_authorization_scheme_param(authorization)
    return token if scheme.lower() == "bearer" and token else None


def is_admin_token(settings: Settings, token: str) -> bool:
    admin = settings.admin_token.get_secret_value() if settings.admin_token else None
    return bool(admin) and hmac.compare_digest(token.encode(), str(admin).encode())


# Whether a key's `last_used_at` is due to be written again: a minute after the last time.
_USE_IS_STALE = or_(
    ApiKey.last_used_at.is_(None),
    ApiKey.last_used_at < func.now() - literal_column("interval '1 minute'"),
)


async def find_active_key(
    session: AsyncSession, token: str
) -> Row[uuid.UUID, uuid.UUID, list[str], bool] | None:
    """The active key this token is (`id`, `organization_id`, `roles` of its organization,
    `stale_use`: whether its `last_used_at` is due to be written), in one indexed query."""
    return (
        await session.execute(
            select(
                ApiKey.id,
                ApiKey.organization_id,
                Organization.roles,
                _USE_IS_STALE.label("stale_use"),
            )
            .join(Organization, ApiKey.organization_id == Organization.id)
            .where(ApiKey.key_hash == hash_credential(token), ApiKey.revoked_at.is_(None))
        )
    ).one_or_none()


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
    key = await find_active_key(session, _token(credentials))
    if key is None:
        raise Unauthorized("This API key is unknown or revoked.")
    if key.stale_use:
        # Committed now, before the route runs: a read commits nothing of its own. The guard
        # makes concurrent requests with one key write it once.
        await session.execute(
            update(ApiKey).where(ApiKey.id == key.id, _USE_IS_STALE).values(last_used_at=func.now())
        )
        await session.commit()
    return Principal(organization_id=key.organization_id, roles=tuple(key.roles))


def require_admin(request: Request, credentials: Credentials) -> None:
    settings: Settings = request.app.state.settings
    if not is_admin_token(settings, _token(credentials)):
        raise Forbidden("Only the admin token may do this.")


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
