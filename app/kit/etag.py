"""Optimistic concurrency: a row's version is its ETag; a stale `If-Match` answers 412."""

from typing import Annotated

from fastapi import Header, Response

from app.errors import PreconditionFailed

IfMatch = Annotated[
    str | None,
    Header(
        alias="If-Match",
        description="The ETag you last read. When it no longer matches, the write answers 412.",
    ),
]


def etag(version: int) -> str:
    return f'"{version}"'


def set_etag(response: Response, version: int) -> None:
    response.headers["ETag"] = etag(version)


def check_if_match(if_match: str | None, version: int) -> None:
    if if_match is None:
        return
    accepted = {tag.strip().removeprefix("W/") for tag in if_match.split(",")}
    if "*" not in accepted and etag(version) not in accepted:
        raise PreconditionFailed(
            f"The resource changed since you read it: its ETag is now {etag(version)}. "
            "Read it again and retry.",
            current_etag=etag(version),
        )
