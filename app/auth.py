"""API keys and the identity behind a request."""

import hashlib
import hmac
import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.security.utils import get_authorization_scheme_param
from sqlalchemy import Select, bindparam, func, literal_column, or_, select, update
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.types import Scope

from app.db import run_alone
from app.kit.principal import Principal
from app.kit.problems import Forbidden, Unauthorized
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


@dataclass(frozen=True)
class ActiveKey:
    """An active key as a request sees it: its organization (the profile that `/me` answers,
    read in the same statement), and whether its `last_used_at` is due to be written."""

    id: uuid.UUID
    organization_id: uuid.UUID
    roles: tuple[str, ...]
    organization_name: str
    organization_created_at: datetime
    stale_use: bool


def _active_key_query() -> Select[uuid.UUID, uuid.UUID, list[str], str, datetime, bool]:
    return (
        select(
            ApiKey.id,
            ApiKey.organization_id,
            Organization.roles,
            Organization.name.label("organization_name"),
            Organization.created_at.label("organization_created_at"),
            _USE_IS_STALE.label("stale_use"),
        )
        .join(Organization, ApiKey.organization_id == Organization.id)
        .where(ApiKey.key_hash == bindparam("key_hash"), ApiKey.revoked_at.is_(None))
    )


# The active key a token is, with its organization, as one indexed query (the columns of
# `ActiveKey`) of the parameters `key_parameters(token)`: for `find_active_key`, or for a
# statement that needs it on the way. Made once: building a statement costs more than
# running it.
ACTIVE_KEY_QUERY = _active_key_query()


def key_parameters(token: str) -> dict[str, str]:
    return {"key_hash": hash_credential(token)}


def key_of_row(row: Mapping[str, Any] | None) -> ActiveKey | None:
    """The key in a row with the columns of `ACTIVE_KEY_QUERY`; None for no row, or for one
    whose outer join found no key."""
    if row is None or row["id"] is None:
        return None
    return ActiveKey(
        row["id"],
        row["organization_id"],
        tuple(row["roles"]),
        row["organization_name"],
        row["organization_created_at"],
        row["stale_use"],
    )


async def find_active_key(engine: AsyncEngine, token: str) -> ActiveKey | None:
    """The lookup alone, in one round trip and no transaction: the first statement of the
    request, run once more if its connection had died (`app.db.run_alone`)."""
    rows = await run_alone(engine, ACTIVE_KEY_QUERY, key_parameters(token))
    return key_of_row(rows[0] if rows else None)


# Where a request keeps the lookup of its token that a middleware made on the way (the rate
# limit's, in the statement that counts the request), so that it is not made twice.
_LOOKED_UP = "active_key_lookup"


def remember_key_lookup(scope: Scope, token: str, key: ActiveKey | None) -> None:
    scope.setdefault("state", {})[_LOOKED_UP] = (token, key)


async def active_key(scope: Scope, token: str) -> ActiveKey | None:
    """The active key this token is (None: unknown or revoked): as already looked up for this
    request (by the rate limit, from the database or from what its process kept with a reserve
    of the key's requests, `app.gateway.grants`, which a revocation makes it forget), else from
    the database."""
    looked_up = scope.get("state", {}).get(_LOOKED_UP)
    if looked_up is not None and looked_up[0] == token:
        key: ActiveKey | None = looked_up[1]
        return key
    return await find_active_key(scope["app"].state.autocommit_engine, token)


Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


def _token(credentials: HTTPAuthorizationCredentials | None) -> str:
    if credentials is None or not credentials.credentials:
        raise Unauthorized("Send your API key as `Authorization: Bearer <api key>`.")
    return credentials.credentials


async def authenticated_key(request: Request, credentials: Credentials) -> ActiveKey:
    """The request's active key, or 401. Outside the request's session: a request that only
    reads answers from this lookup alone (`/v1/organizations/me`) or begins no transaction
    for it."""
    key = await active_key(request.scope, _token(credentials))
    if key is None:
        raise Unauthorized("This API key is unknown or revoked.")
    if key.stale_use:
        # A statement of its own that commits at once, before the route runs: the use stands
        # whatever the request answers, and the key's row is not held locked for the whole
        # request. The guard makes concurrent requests with one key write it once.
        await run_alone(request.app.state.autocommit_engine, _NOTE_USE, {"key_id": key.id})
    return key


_NOTE_USE = (
    update(ApiKey)
    .where(ApiKey.id == bindparam("key_id"), _USE_IS_STALE)
    .values(last_used_at=func.now())
    .returning(ApiKey.id)
)


AuthenticatedKey = Annotated[ActiveKey, Depends(authenticated_key)]


async def current_principal(key: AuthenticatedKey) -> Principal:
    # Async: FastAPI runs a plain function dependency in a thread of its pool.
    return principal_of(key)


def principal_of(key: ActiveKey) -> Principal:
    return Principal(organization_id=key.organization_id, roles=key.roles)


async def require_admin(request: Request, credentials: Credentials) -> None:
    settings: Settings = request.app.state.settings
    if not is_admin_token(settings, _token(credentials)):
        raise Forbidden("Only the admin token may do this.")


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
