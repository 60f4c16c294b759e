"""What a kind of listing is (an offer, a request): its rows, its rules, its schemas and how
its list is filtered; and what the layers above the listings make happen when one changes."""

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any, Generic, TypeVar

from pydantic import BaseModel
from sqlalchemy import ColumnElement
from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.geo import GeoFeature, GeoFeatureCollection, Point
from app.kit.owned import OwnedRows
from app.models import Listing

Row = TypeVar("Row", bound=Listing)


@dataclass(frozen=True)
class ListingFilters:
    """What a list of listings is narrowed to, as its query parameters say."""

    material: str | None
    # The day the listing must cover: an offer's availability, a request's need.
    day: date | None
    status: StrEnum | None
    mine: bool


@dataclass(frozen=True)
class ListingSchemas:
    """The kind's schemas, each its own component of the OpenAPI document."""

    create: type[BaseModel]
    update: type[BaseModel]
    # The whole listing as a patch may leave it: the create rules plus the status.
    stored: type[BaseModel]
    # As its owner sees it, and as everyone else does.
    full: type[BaseModel]
    public: type[BaseModel]
    # The same two in a list, as the properties of a GeoJSON Feature.
    full_properties: type[BaseModel]
    public_properties: type[BaseModel]
    feature: type[GeoFeature[Any, Any]]
    collection: type[GeoFeatureCollection[Any]]

    def view(self, row: Listing, viewer: uuid.UUID) -> BaseModel:
        """All its fields for its own organization (`viewer`), its public ones for another."""
        schema = self.full if row.organization_id == viewer else self.public
        return schema.model_validate(self._fields(row))

    def feature_of(
        self, row: Listing, viewer: uuid.UUID, distance_m: float | None
    ) -> GeoFeature[Any, Any]:
        """Its view as a Feature: the properties read from the row at once (not from the
        view, which a page of features would validate twice)."""
        own = row.organization_id == viewer
        properties = (self.full_properties if own else self.public_properties).model_validate(
            {
                **self._fields(row),
                "distance_m": None if distance_m is None else round(distance_m, 1),
            }
        )
        return self.feature(
            id=str(row.id), geometry=Point.model_validate(row.location), properties=properties
        )

    # The columns of a row its quantity and remaining are read from, besides the view's fields.
    QUANTITY_COLUMNS = ("quantity_value", "remaining_value", "quantity_unit")

    def _fields(self, row: Listing) -> dict[str, Any]:
        return {
            **{name: getattr(row, name) for name in _columns(self.full, row)},
            "quantity": {"value": row.quantity_value, "unit": row.quantity_unit},
            "remaining": {"value": row.remaining_value, "unit": row.quantity_unit},
        }


# The fields of a view that rows of a type hold as they are, by view and type of row.
_COLUMNS: dict[tuple[type[BaseModel], type], tuple[str, ...]] = {}


def _columns(view: type[BaseModel], row: Any) -> tuple[str, ...]:
    """The fields of `view` that `row` holds as they are: found on the first row of its type
    (rows of a type hold the same attributes), not on every row of every page."""
    key = (view, type(row))
    names = _COLUMNS.get(key)
    if names is None:
        names = _COLUMNS[key] = tuple(name for name in view.model_fields if hasattr(row, name))
    return names


@dataclass(frozen=True)
class ListingKind(Generic[Row]):
    model: type[Row]
    noun: str
    plural: str
    # Roles allowed to create one.
    roles: tuple[str, ...]
    # Checks and normalises the `material` field.
    check_material: Callable[[AsyncSession, str], Awaitable[str]]
    # Fields copied as they are between the schemas and the rows.
    plain_fields: frozenset[str]
    schemas: ListingSchemas
    # The list's query parameters as FastAPI reads them (a dependency), and the conditions
    # their material and day put on the rows.
    query: Callable[..., Awaitable[ListingFilters]]
    narrow: Callable[[AsyncSession, ListingFilters], Awaitable[list[ColumnElement[bool]]]]

    @property
    def rows(self) -> OwnedRows[Row]:
        """Its repository: every organization reads the listings, their owner changes them."""
        return OwnedRows(self.model, self.noun, public=True)


@dataclass(frozen=True)
class ListingEffects(Generic[Row]):
    """What else happens, in the same transaction, when a listing of the kind is written. The
    listings lie below the candidates, the yards and the matches; these hand their parts in
    from above (app/offers, app/requests)."""

    # After one is created.
    on_created: Callable[[AsyncSession, Row], Awaitable[None]] | None = None
    # Refuses a patch or a delete its owner may not make (raises a problem).
    check_editable: Callable[[AsyncSession, Row], Awaitable[None]] | None = None
    # After a patch, with the listing's terms before and after it (app/listings/service.py).
    on_patched: (
        Callable[[AsyncSession, str, uuid.UUID, dict[str, Any], dict[str, Any]], Awaitable[None]]
        | None
    ) = None
