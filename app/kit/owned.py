"""The rows an organization owns, read and written by one set of rules: an organization lists
and changes only its own rows, another organization's private row is answered as missing, and
a write based on a stale read answers 412.

`OwnedRows` is the repository of one kind of row (sites, hubs, vehicles, shipments, webhooks,
the listings, route plans, matching runs) and the one way to reach them: its keyset list, its
readable and writable get, the row's body after a PATCH (by the rules of a create), the
versioned flush. `answer` is the ETag answer of its routes.

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
        """The row if this caller may read it. Another organization's private row is answered
        as missing, so that its existence does not leak."""
        row = await session.get(self.model, row_id)
        if row is None or (not self.public and self._owner_of(row) != caller.organization_id):
            raise NotFound(f"No {self.noun} {row_id}.")
        return row

    async def writable(
        self,
        session: AsyncSession,
        caller: Caller,
        row_id: uuid.UUID,
        if_match: str | None = None,
    ) -> Model:
        """The row, locked for this transaction, if this caller owns it and (with `if_match`)
        has seen its current version. Another organization's public row answers 403, its
        private one 404."""
        row = await session.get(self.model, row_id, with_for_update={"key_share": True})
        owned = row is not None and self._owner_of(row) == caller.organization_id
        if row is None or (not owned and not self.public):
            raise NotFound(f"No {self.noun} {row_id}.")
        if not owned:
            raise Forbidden(
                f"This {self.noun} belongs to another organization: only its owner may change it."
            )
        if if_match is not None:
            check_if_match(if_match, getattr(row, "version"))  # noqa: B009
        return row

    def patched(self, create: type[Schema], body: dict[str, Any], patch: BaseModel) -> Schema:
        """The row's `body` (as a create would give it) after the patch, validated by the same
        rules as a create, so that a patch can never reach a state a create would refuse."""
        try:
            return create.model_validate(
                {**body, **patch.model_dump(exclude_unset=True, mode="json")}
            )
        except PydanticValidationError as exc:
            raise ValidationFailed.from_pydantic(exc) from None

    async def flush(self, session: AsyncSession) -> None:
        """Writes the changes of a versioned row now, in the request's transaction: a row that
        another transaction changed since it was read answers 412, and the commit that ends
        the request has nothing left to fail on."""
        try:
            await session.flush()
        except StaleDataError:
            raise PreconditionFailed(
                f"The {self.noun} changed while you wrote it. Read it again and retry."
            ) from None

    @staticmethod
    def _owner_of(row: Any) -> uuid.UUID:
        owner: uuid.UUID = row.organization_id
        return owner


class Versioned(Protocol):
    @property
    def version(self) -> int: ...


VersionedRow = TypeVar("VersionedRow", bound=Versioned)


def answer(response: Response, row: VersionedRow, view: Callable[[VersionedRow], View]) -> View:
    """A versioned row's answer: its view, its version in the `ETag` header."""
    set_etag(response, row.version)
    return view(row)
