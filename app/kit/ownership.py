"""Tenancy and versioned writes: an organization changes only its own rows, and a write based
on a stale read answers 412."""

import uuid
from typing import Any, TypeVar

from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from app.kit.etag import check_if_match
from app.kit.principal import Principal
from app.kit.problems import Forbidden, NotFound, PreconditionFailed, ValidationFailed

Model = TypeVar("Model")
Schema = TypeVar("Schema", bound=BaseModel)


async def load_readable(
    session: AsyncSession,
    model: type[Model],
    row_id: uuid.UUID,
    principal: Principal,
    *,
    public: bool,
    noun: str,
) -> Model:
    """The row if this principal may read it. A private row of another organization is
    answered as missing, so that its existence does not leak."""
    row = await session.get(model, row_id)
    if row is None or (not public and getattr(row, "organization_id") != principal.organization_id):  # noqa: B009
        raise NotFound(f"No {noun} {row_id}.")
    return row


async def load_writable(
    session: AsyncSession,
    model: type[Model],
    row_id: uuid.UUID,
    principal: Principal,
    *,
    public: bool,
    noun: str,
    if_match: str | None = None,
) -> Model:
    """The row, locked for this transaction, if this principal owns it and (with `if_match`)
    has seen its current version."""
    row = await session.get(model, row_id, with_for_update={"key_share": True})
    owned = row is not None and getattr(row, "organization_id") == principal.organization_id  # noqa: B009
    if row is None or (not owned and not public):
        raise NotFound(f"No {noun} {row_id}.")
    if not owned:
        raise Forbidden(
            f"This {noun} belongs to another organization: only its owner may change it."
        )
    check_if_match(if_match, getattr(row, "version"))  # noqa: B009
    return row


def merge_patch(schema: type[Schema], current: dict[str, Any], patch: BaseModel) -> Schema:
    """The resource as it would be after the patch, validated by the same rules as a create,
    so that a patch can never reach a state a create would refuse."""
    try:
        return schema.model_validate(
            {**current, **patch.model_dump(exclude_unset=True, mode="json")}
        )
    except PydanticValidationError as exc:
        raise ValidationFailed.from_pydantic(exc) from None


async def flush_versioned(session: AsyncSession, noun: str) -> None:
    """Writes the changes of a versioned row now, in the request's transaction: a row that
    another transaction changed since it was read answers 412, and the commit that ends the
    request has nothing left to fail on."""
    try:
        await session.flush()
    except StaleDataError:
        raise PreconditionFailed(
            f"The {noun} changed while you wrote it. Read it again and retry."
        ) from None
