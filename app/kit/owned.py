"""The rows an organization owns, read and written by one set of rules: an organization lists
and changes only its own rows, another organization's private row is answered as missing, and
a write based on a stale read answers 412.

`OwnedRows` is the repository of one kind of row (sites, vehicles, shipments, webhooks, the
listings): its keyset list, its readable and writable get, the row's body after a PATCH (by
the rules of a create), the versioned flush. `answer` is the ETag answer of its routes.

Nothing here knows who calls: the caller is anything with an `organization_id`."""

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from fastapi import Response
from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError
from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from app.kit.etag import check_if_match, set_etag
from app.kit.pagination import Keyset, PageParams, keyset_page, oldest_first
from app.kit.problems import Forbidden, NotFound, PreconditionFailed, ValidationFailed

Model = TypeVar("Model")
Schema = TypeVar("Schema", bound=BaseModel)
View = TypeVar("View")


class Caller(Protocol):
    """Who reads or writes: the organization it acts for."""

    @property
    def organization_id(self) -> uuid.UUID: ...


async def load_readable(
    session: AsyncSession,
    model: type[Model],
    row_id: uuid.UUID,
    caller: Caller,
    *,
    public: bool,
    noun: str,
) -> Model:
    """The row if this caller may read it. A private row of another organization is
    answered as missing, so that its existence does not leak."""
    row = await session.get(model, row_id)
    if row is None or (not public and getattr(row, "organization_id") != caller.organization_id):  # noqa: B009
        raise NotFound(f"No {noun} {row_id}.")
    return row


async def load_writable(
    session: AsyncSession,
    model: type[Model],
    row_id: uuid.UUID,
    caller: Caller,
    *,
    public: bool,
    noun: str,
    if_match: str | None = None,
) -> Model:
    """The row, locked for this transaction, if this caller owns it and (with `if_match`)
    has seen its current version."""
    row = await session.get(model, row_id, with_for_update={"key_share": True})
    owned = row is not None and getattr(row, "organization_id") == caller.organization_id  # noqa: B009
    if row is None or (not owned and not public):
        raise NotFound(f"No {noun} {row_id}.")
    if not owned:
        raise Forbidden(
            f"This {noun} belongs to another organization: only its owner may change it."
        )
    if if_match is not None:
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


@dataclass(frozen=True)
class OwnedRows(Generic[Model]):
    """The repository of one kind of owned row: `public` rows are read by every organization
    (changed by their owner only), the others by their owner only; `order` is its list's."""

    model: type[Model]
    noun: str
    public: bool = False
    order: Callable[[Any], Keyset] = oldest_first

    async def page(
        self,
        session: AsyncSession,
        caller: Caller,
        page: PageParams,
        *filters: ColumnElement[bool],
    ) -> list[Model]:
        """A page of the caller's own rows that pass `filters`, in the list's order."""
        owner: Any = getattr(self.model, "organization_id")  # noqa: B009
        query = select(self.model).where(owner == caller.organization_id, *filters)
        return list((await session.scalars(keyset_page(query, self.order(self.model), page))).all())

    async def readable(self, session: AsyncSession, caller: Caller, row_id: uuid.UUID) -> Model:
        return await load_readable(
            session, self.model, row_id, caller, public=self.public, noun=self.noun
        )

    async def writable(
        self,
        session: AsyncSession,
        caller: Caller,
        row_id: uuid.UUID,
        if_match: str | None = None,
    ) -> Model:
        return await load_writable(
            session,
            self.model,
            row_id,
            caller,
            public=self.public,
            noun=self.noun,
            if_match=if_match,
        )

    def patched(self, create: type[Schema], body: dict[str, Any], patch: BaseModel) -> Schema:
        """The row's `body` (as a create would give it) after the patch, by the create rules."""
        return merge_patch(create, body, patch)

    async def flush(self, session: AsyncSession) -> None:
        await flush_versioned(session, self.noun)


class Versioned(Protocol):
    @property
    def version(self) -> int: ...


VersionedRow = TypeVar("VersionedRow", bound=Versioned)


def answer(response: Response, row: VersionedRow, view: Callable[[VersionedRow], View]) -> View:
    """A versioned row's answer: its view, its version in the `ETag` header."""
    set_etag(response, row.version)
    return view(row)
