"""Keyset pagination: an opaque cursor holds the sort key of the last row returned."""

import base64
import json
from typing import Annotated, Any

from fastapi import Depends, Query, Request
from pydantic import BaseModel

from app.errors import ValidationFailed


class Link(BaseModel):
    rel: str
    href: str
    type: str | None = None


class PageParams(BaseModel):
    limit: int
    after: list[Any] | None


def encode_cursor(sort_key: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(sort_key, default=str).encode()).decode()


def _decode_cursor(cursor: str) -> list[Any]:
    try:
        value = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except ValueError:
        value = None
    if not isinstance(value, list):
        raise ValidationFailed.field(
            "cursor", "valid_cursor", "Use the cursor from a `next` link as it is.", "query"
        )
    return value


def page_params(
    request: Request,
    limit: Annotated[int | None, Query(ge=1, description="Items per page.")] = None,
    cursor: Annotated[str | None, Query(description="From a `next` link.")] = None,
) -> PageParams:
    settings = request.app.state.settings
    if limit is not None and limit > settings.page_size_max:
        raise ValidationFailed.field(
            "limit", "less_than_equal", f"At most {settings.page_size_max} items a page.", "query"
        )
    return PageParams(
        limit=limit or settings.page_size_default,
        after=_decode_cursor(cursor) if cursor else None,
    )


Page = Annotated[PageParams, Depends(page_params)]


def next_links(request: Request, last_sort_key: list[Any] | None, media_type: str) -> list[Link]:
    """The `next` link when the page was full, as OGC API Features and tipg give it."""
    if last_sort_key is None:
        return []
    href = str(request.url.include_query_params(cursor=encode_cursor(last_sort_key)))
    return [Link(rel="next", href=href, type=media_type)]
