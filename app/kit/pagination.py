"""Keyset pagination, the one way every list pages: an opaque cursor holds the sort key of the
last row returned, and the next page starts after it.

A list declares its order as a `Keyset`: the columns of its sort key, the Python type of each
(datetime, uuid.UUID, str, float) and the direction. The cursor is that key as a flat JSON
list of plain values; anything else, or a key of another shape (another list's cursor, say),
answers 422 `valid_cursor` rather than reaching the database."""

import base64
import binascii
import json
import math
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Query, Request
from pydantic import BaseModel, Field, WithJsonSchema
from sqlalchemy import ColumnElement, Select, literal, tuple_
from sqlalchemy.orm import QueryableAttribute

from app.kit.problems import ValidationFailed
from app.kit.schema import has_control_characters

Row = TypeVar("Row")
Statement = TypeVar("Statement", bound=Select[*tuple[Any, ...]])
JSON_MEDIA_TYPE = "application/json"
# A cursor is a short key (a timestamp and a UUID make about 110 characters); a longer one was
# not made here, and is refused before it is decoded.
MAX_CURSOR_CHARS = 512
MAX_KEY_PARTS = 4
# The longest page any list answers; a deployment may set a lower one (`page_size_max`).
MAX_PAGE_SIZE = 500
Plain = str | int | float
KeyType = type[datetime] | type[uuid.UUID] | type[str] | type[float]


class Link(BaseModel):
    """A link from a page, as OGC API Features gives them."""

    rel: str = Field(description="`next`: the page after this one.", examples=["next"])
    href: str = Field(
        description="The same request with the cursor of the page after: follow it as it is.",
        examples=["http://127.0.0.1:8000/v1/matches?limit=50&cursor=WyIyMDI2LTEyLTAx..."],
    )
    type: str | None = Field(
        default=None,
        description="The media type the link answers: application/json, or "
        "application/geo+json for the spatial lists.",
    )


@dataclass(frozen=True)
class PageParams:
    limit: int
    # The sort key of the last row of the page before, as plain values; typed by `keyset_page`.
    after: list[Plain] | None


@dataclass(frozen=True)
class Keyset:
    """A list's order: the columns of its sort key (the last one unique, so that no two rows
    tie), the type of each, and whether it runs from the largest key down."""

    columns: Sequence[ColumnElement[Any] | QueryableAttribute[Any]]
    types: Sequence[KeyType]
    descending: bool = False


def newest_first(model: Any) -> Keyset:
    return Keyset((model.created_at, model.id), (datetime, uuid.UUID), descending=True)


def oldest_first(model: Any) -> Keyset:
    return Keyset((model.created_at, model.id), (datetime, uuid.UUID))


def creation_key(row: Any) -> tuple[datetime, uuid.UUID]:
    """The sort key of a row of a list in `newest_first` or `oldest_first` order."""
    return row.created_at, row.id


def _invalid_cursor() -> ValidationFailed:
    return ValidationFailed.field(
        "cursor",
        "valid_cursor",
        "This is not a cursor of this list: use the cursor from its `next` link as it is, "
        "or start again without one.",
        "query",
    )


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is no sort key")


def _plain(value: Any) -> Plain:
    """A JSON value as a key part: a string without control characters, or a finite number."""
    if isinstance(value, str) and not has_control_characters(value):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return value
    raise _invalid_cursor()


def _encode_part(value: Any) -> Plain:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, str | int | float):
        return value
    raise TypeError(f"{type(value).__name__} is no sort key part")


def encode_cursor(sort_key: Sequence[Any]) -> str:
    plain = [_encode_part(part) for part in sort_key]
    return base64.urlsafe_b64encode(json.dumps(plain, separators=(",", ":")).encode()).decode()


def decode_cursor(cursor: str) -> list[Plain]:
    """The plain values of a cursor: a flat list of at most `MAX_KEY_PARTS` strings and finite
    numbers. The length is checked first, so no cursor nests deep enough to strain the parser."""
    if len(cursor) > MAX_CURSOR_CHARS:
        raise _invalid_cursor()
    try:
        raw = base64.b64decode(cursor.encode("ascii"), altchars=b"-_", validate=True)
        value = json.loads(raw, parse_constant=_refuse_constant)
    except (ValueError, binascii.Error, RecursionError):
        raise _invalid_cursor() from None
    if not isinstance(value, list) or not 0 < len(value) <= MAX_KEY_PARTS:
        raise _invalid_cursor()
    return [_plain(part) for part in value]


def _typed_part(value: Plain, expected: KeyType) -> Any:
    if expected is datetime and isinstance(value, str):
        moment = datetime.fromisoformat(value)
        if moment.tzinfo is None:
            raise ValueError("a sort key's time has its zone")
        # In UTC, as the driver sends it: a time that falls off the calendar there fails here.
        return moment.astimezone(UTC)
    if expected is uuid.UUID and isinstance(value, str):
        return uuid.UUID(value)
    if expected is str and isinstance(value, str):
        return value
    if expected is float and isinstance(value, int | float):
        return float(value)
    raise ValueError(f"{value!r} is no {expected.__name__}")


def typed_key(page: PageParams, types: Sequence[KeyType]) -> tuple[Any, ...] | None:
    """The sort key the page starts after, of the declared types, or None on a first page."""
    if page.after is None:
        return None
    if len(page.after) != len(types):
        raise _invalid_cursor()
    try:
        return tuple(_typed_part(v, t) for v, t in zip(page.after, types, strict=True))
    except (ValueError, OverflowError):
        raise _invalid_cursor() from None


def after_cursor(keyset: Keyset, page: PageParams) -> list[ColumnElement[bool]]:
    """The condition of the rows after the cursor's key in the keyset's order: none on a first
    page."""
    after = typed_key(page, keyset.types)
    if after is None:
        return []
    key = tuple_(*keyset.columns)
    bound = tuple_(*(literal(v, c.type) for v, c in zip(after, keyset.columns, strict=True)))
    return [key < bound if keyset.descending else key > bound]


def keyset_page(query: Statement, keyset: Keyset, page: PageParams) -> Statement:
    """`query` ordered by the keyset, from the row after the cursor's key, one page long."""
    order = [c.desc() if keyset.descending else c.asc() for c in keyset.columns]
    return query.where(*after_cursor(keyset, page)).order_by(*order).limit(page.limit)


# The cursor's bound is in the document; `decode_cursor` enforces it, with the rule
# `valid_cursor` that every cursor not made for the list answers.
CursorText = Annotated[str, WithJsonSchema({"type": "string", "maxLength": MAX_CURSOR_CHARS})]
# A query parameter is never null: the document says what a limit may be, as it is.
PageLimit = Annotated[
    int | None, WithJsonSchema({"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE})
]


async def page_params(
    request: Request,
    limit: Annotated[
        PageLimit,
        Query(
            ge=1,
            le=MAX_PAGE_SIZE,
            description=f"Items per page: 1 to {MAX_PAGE_SIZE}, 50 by default.",
        ),
    ] = None,
    cursor: Annotated[
        CursorText | None,
        Query(
            description="From a `next` link, as it is; a cursor of another list (or none made "
            "here) answers 422 `valid_cursor`."
        ),
    ] = None,
) -> PageParams:
    settings = request.app.state.settings
    if limit is not None and limit > settings.page_size_max:
        raise ValidationFailed.field(
            "limit", "less_than_equal", f"At most {settings.page_size_max} items a page.", "query"
        )
    return PageParams(
        limit=limit or settings.page_size_default,
        after=decode_cursor(cursor) if cursor else None,
    )


Page = Annotated[PageParams, Depends(page_params)]


def page_links(
    request: Request,
    page: PageParams,
    rows: Sequence[Row],
    sort_key: Callable[[Row], Sequence[Any]],
    media_type: str = JSON_MEDIA_TYPE,
) -> list[Link]:
    """The links of a page of `rows` that `keyset_page` answered, as OGC API Features and tipg
    give them: `next` when the page is full, the same request with the cursor of its last row."""
    if not rows or len(rows) < page.limit:
        return []
    href = str(request.url.include_query_params(cursor=encode_cursor(sort_key(rows[-1]))))
    return [Link(rel="next", href=href, type=media_type)]
