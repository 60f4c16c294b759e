"""Optimistic concurrency: a row's version is its (strong) ETag; a stale `If-Match` answers 412.

`If-Match` uses the strong comparison of RFC 9110 (13.1.1): a weak tag (`W/"3"`) never
matches, since a weak validator does not promise the bytes a write would be based on."""

import re
from typing import Annotated

from fastapi import Header, Response

from app.kit.problems import PreconditionFailed

IfMatch = Annotated[
    str | None,
    Header(
        alias="If-Match",
        description="The ETag you last read (strong: a weak `W/` tag never matches). When it "
        "no longer matches, the write answers 412 and changes nothing.",
    ),
]

# One member of an If-Match list: `*`, or an entity tag, weak or strong.
_MEMBER = re.compile(r'\s*(\*|(W/)?"[\x21\x23-\x7e\x80-\xff]*")\s*(,|$)')


def etag(version: int) -> str:
    return f'"{version}"'


def set_etag(response: Response, version: int) -> None:
    response.headers["ETag"] = etag(version)


def _strong_tags(if_match: str) -> set[str]:
    """The strong tags and `*` of an If-Match value; malformed members match nothing."""
    tags, position = set(), 0
    while position < len(if_match):
        member = _MEMBER.match(if_match, position)
        if member is None or member.end() == position:
            break
        if member.group(2) is None:
            tags.add(member.group(1))
        position = member.end()
    return tags


def check_if_match(if_match: str | None, version: int) -> None:
    """Refuses a write whose `If-Match` does not name the row's current version (no header:
    no precondition)."""
    if if_match is None:
        return
    accepted = _strong_tags(if_match)
    if "*" not in accepted and etag(version) not in accepted:
        raise PreconditionFailed(
            f"The resource changed since you read it, or If-Match named no strong ETag of it: "
            f"its ETag is now {etag(version)}. Read it again and retry.",
            current_etag=etag(version),
        )
