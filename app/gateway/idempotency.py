"""`Idempotency-Key` on POST: the same key and body answer the stored response without doing
the work again; the same key with another body answers 409.

A key belongs to whoever the request authenticates as: an organization (whichever of its API
keys sent it) or the admin token. A request without valid credentials passes through
untouched, for its route to answer 401 or 403, and leaves nothing behind.

The key is claimed in its own short transaction before the request runs, so two concurrent
requests with one key never both run: the second answers 409 while the first is in flight.
The claim lapses after `idempotency_lock_seconds`, so that a process that died mid-request
does not hold the key: the same request sent after that runs. A request that fails with a
5xx, or is turned away for now with a 429, releases its key so that it can be retried, and
keeps nothing of its work.

The request itself runs in a session of the middleware, and its record is written in that
same transaction: the response is sent once both are committed. A response and its record
thus never disagree: when that commit fails, nothing of the request stays, the key is
released, and the client gets the 503 or 500 problem, not the response it would have had.
Records expire after `idempotency_ttl_hours`; a sweep deletes them.

A response that says `Cache-Control: no-store` holds a secret shown once (an API key): only its
status and Location are kept, and the same request again answers 409 `secret-shown-once`,
naming the resource, instead of the secret."""

import asyncio
import hashlib
from datetime import datetime, timedelta
from http import HTTPStatus
from typing import Annotated, Any

from fastapi import Depends, Header
from sqlalchemy import and_, delete, func, or_, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.auth import active_key, bearer_token, is_admin_token
from app.kit.database_errors import RAISED_WHEN_UNAVAILABLE, is_database_unavailable
from app.kit.problems import (
    Conflict,
    Problem,
    ValidationFailed,
    database_unavailable_response,
    problem_response,
)
from app.kit.request_session import SCOPE_SESSION
from app.kit.unexpected_errors import unexpected_error_response
from app.models import IdempotencyRecord
from app.settings import Settings

HEADER = "idempotency-key"
MAX_KEY_LENGTH = 255
ADMIN_SCOPE = "admin"
_REPLAYED_HEADERS = {"content-type", "location", "etag"}


class SecretShownOnce(Conflict):
    slug = "secret-shown-once"


class IdempotencyMiddleware:
    def __init__(self, app: ASGIApp, ttl_hours: int) -> None:
        self.app = app
        self.ttl = timedelta(hours=ttl_hours)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        key = headers.get(HEADER)
        if key is None:
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        settings: Settings = scope["app"].state.settings
        sessionmaker: async_sessionmaker[AsyncSession] = scope["app"].state.sessionmaker
        try:
            owner = await key_scope(scope, settings)
        except RAISED_WHEN_UNAVAILABLE as exc:
            if not is_database_unavailable(exc):
                raise
            await database_unavailable_response(request)(scope, receive, send)
            return
        if owner is None:
            await self.app(scope, receive, send)
            return
        if not 1 <= len(key) <= MAX_KEY_LENGTH:
            problem = ValidationFailed.field(
                "Idempotency-Key",
                "string_length",
                f"Use 1 to {MAX_KEY_LENGTH} characters.",
                "header",
            )
            await problem_response(problem, request)(scope, receive, send)
            return
        body = await request.body()
        request_hash = hashlib.sha256(
            b"\0".join([scope["method"].encode(), scope["path"].encode(), body])
        ).hexdigest()
        lock = timedelta(seconds=settings.idempotency_lock_seconds)
        try:
            claim, record = await self._claim(sessionmaker, owner, key, scope, request_hash, lock)
        except RAISED_WHEN_UNAVAILABLE as exc:
            if not is_database_unavailable(exc):
                raise
            await database_unavailable_response(request)(scope, receive, send)
            return
        if claim is None:
            assert record is not None
            await self._answer_again(record, request_hash, request, send)
            return
        await self._run_and_record(sessionmaker, owner, key, claim, scope, body, send)

    async def _claim(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        owner: str,
        key: str,
        scope: Scope,
        request_hash: str,
        lock: timedelta,
    ) -> tuple[datetime | None, IdempotencyRecord | None]:
        """Claims the key in a transaction of its own and answers the claim's `locked_until`,
        which tells it from a later claim; or answers the record that holds the key. An expired
        record, or the claim of the same request whose lock lapsed, is taken over."""
        now = func.now()
        proposed = insert(IdempotencyRecord).values(
            scope=owner,
            key=key,
            method=scope["method"],
            path=scope["path"],
            request_hash=request_hash,
            secret_withheld=False,
            expires_at=now + self.ttl,
            locked_until=now + lock,
        )
        fresh = proposed.excluded
        claiming = proposed.on_conflict_do_update(
            index_elements=[IdempotencyRecord.scope, IdempotencyRecord.key],
            set_={
                "method": fresh.method,
                "path": fresh.path,
                "request_hash": fresh.request_hash,
                "status_code": None,
                "response_headers": None,
                "response_body": None,
                "secret_withheld": False,
                "created_at": now,
                "expires_at": fresh.expires_at,
                "locked_until": fresh.locked_until,
            },
            where=or_(
                IdempotencyRecord.expires_at <= now,
                and_(
                    IdempotencyRecord.status_code.is_(None),
                    IdempotencyRecord.locked_until <= now,
                    IdempotencyRecord.request_hash == fresh.request_hash,
                ),
            ),
        ).returning(IdempotencyRecord.locked_until)
        record = None
        async with sessionmaker.begin() as session:
            claim = (await session.execute(claiming)).scalar_one_or_none()
            if claim is None:
                # The upsert locked the row it did not take: it is there, as it stands.
                record = await session.get_one(IdempotencyRecord, (owner, key))
        return claim, record

    async def _run_and_record(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        owner: str,
        key: str,
        claim: datetime,
        scope: Scope,
        body: bytes,
        send: Send,
    ) -> None:
        """Runs the request in a session of this middleware (`app.kit.request_session.get_session` hands it to
        the route), writes its response as the key's record in the same transaction, commits,
        and only then sends the response: the work and its record are written together or not
        at all, and no client is told of work that was not written."""
        status = 500
        response_headers: list[tuple[str, str]] = []
        messages: list[Message] = []

        async def hold(message: Message) -> None:
            nonlocal status, response_headers
            if message["type"] == "http.response.start":
                status = message["status"]
                response_headers = [
                    (k.decode("latin-1"), v.decode("latin-1"))
                    for k, v in message.get("headers", [])
                ]
            messages.append(message)

        async def replay_body() -> Message:
            return {"type": "http.request", "body": body, "more_body": False}

        # Only while the claim is still this request's: one taken over is the other's.
        mine = (
            IdempotencyRecord.scope == owner,
            IdempotencyRecord.key == key,
            IdempotencyRecord.locked_until == claim,
        )
        async with sessionmaker() as session:
            scope[SCOPE_SESSION] = session
            try:
                await self.app(scope, replay_body, hold)
            except BaseException:
                await asyncio.shield(self._release(sessionmaker, mine))
                raise
            finally:
                del scope[SCOPE_SESSION]
            if status >= 500 or status == HTTPStatus.TOO_MANY_REQUESTS:
                # Nothing of the request stays, so that its retry runs it.
                await session.rollback()
                await self._release(sessionmaker, mine)
            else:
                try:
                    await session.execute(
                        update(IdempotencyRecord)
                        .where(*mine)
                        .values(**_record_of(status, response_headers, messages))
                    )
                    await session.commit()
                except RAISED_WHEN_UNAVAILABLE as exc:
                    await self._release(sessionmaker, mine)
                    request = Request(scope)
                    if is_database_unavailable(exc):
                        failed = database_unavailable_response(request)
                    else:
                        failed = unexpected_error_response(request, exc)
                    await failed(scope, replay_body, send)
                    return
        for message in messages:
            await send(message)

    @staticmethod
    async def _release(
        sessionmaker: async_sessionmaker[AsyncSession], mine: tuple[Any, ...]
    ) -> None:
        """Frees the key of a request that failed, in a transaction of its own."""
        async with sessionmaker.begin() as session:
            await session.execute(delete(IdempotencyRecord).where(*mine))

    async def _answer_again(
        self, record: IdempotencyRecord, request_hash: str, request: Request, send: Send
    ) -> None:
        stored = (record.response_headers or {}).get("headers", [])
        if record.request_hash != request_hash:
            problem: Problem = Conflict(
                "This Idempotency-Key was already used with another request body or path. "
                "Use a new key for a new request."
            )
        elif record.status_code is None:
            assert record.locked_until is not None
            problem = Conflict(
                "A request with this Idempotency-Key is still being processed; retry later. "
                f"If it never ends, the key is free again at {record.locked_until.isoformat()}."
            )
        elif record.secret_withheld:
            location = next((v for k, v in stored if k.lower() == "location"), None)
            problem = SecretShownOnce(
                f"The request with this Idempotency-Key succeeded ({record.status_code}) and "
                "its response held a secret, shown once and kept nowhere, so it is not "
                "answered again." + (f" What it created is at {location}." if location else ""),
                location=location,
            )
        else:
            headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in stored]
            body = record.response_body or b""
            headers.append((b"content-length", str(len(body)).encode()))
            headers.append((b"idempotent-replayed", b"true"))
            await send(
                {"type": "http.response.start", "status": record.status_code, "headers": headers}
            )
            await send({"type": "http.response.body", "body": body})
            return
        await problem_response(problem, request)(request.scope, request.receive, send)


def _record_of(
    status: int, response_headers: list[tuple[str, str]], messages: list[Message]
) -> dict[str, Any]:
    """The record's columns for a response: all of it, or for one holding a secret shown once
    (`Cache-Control: no-store`), its status and Location only."""
    secret = any(
        k.lower() == "cache-control" and "no-store" in v.lower() for k, v in response_headers
    )
    replayed = {"location"} if secret else _REPLAYED_HEADERS
    body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
    return {
        "status_code": status,
        "response_headers": {
            "headers": [[k, v] for k, v in response_headers if k.lower() in replayed]
        },
        "response_body": None if secret else body,
        "secret_withheld": secret,
        "locked_until": None,
    }


async def key_scope(scope: Scope, settings: Settings) -> str | None:
    """Whose Idempotency-Keys a request uses: its organization's id, "admin" for the admin
    token, or None when its credentials are missing, unknown or revoked."""
    token = bearer_token(Headers(scope=scope).get("authorization"))
    if token is None:
        return None
    if is_admin_token(settings, token):
        return ADMIN_SCOPE
    key = await active_key(scope, token)
    return None if key is None else str(key.organization_id)


async def purge_expired(session: AsyncSession) -> int:
    """Deletes the records past their expiry, in the caller's transaction; answers how many."""
    result = await session.execute(
        delete(IdempotencyRecord).where(IdempotencyRecord.expires_at <= func.now())
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def _document_idempotency_key(
    key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            min_length=1,
            max_length=MAX_KEY_LENGTH,
            description="Makes a retry safe: the same key and body answer the first response again "
            "(header `Idempotent-Replayed: true`) without doing the work twice; the same key with "
            "another body answers 409, and so does the same request while the first is still "
            "served. Keys belong to your organization (any of its API keys) and are kept 24 "
            "hours; a 5xx or a 429 keeps none, so that the retry runs, and a request whose "
            "server died mid-way runs again when sent after 5 minutes (by default). A response "
            "holding a secret "
            "shown once (an API key) is not kept: the same request again answers 409 "
            "`secret-shown-once` with the `location` of what it created.",
        ),
    ] = None,
) -> None:
    """Declares the header in the OpenAPI document; the middleware above does the work."""


IdempotencyKey = Depends(_document_idempotency_key)
