"""`Idempotency-Key` on POST: the same key and body answer the stored response without doing
the work again; the same key with another body answers 409.

The key is claimed in its own short transaction before the request runs, so two concurrent
requests with one key never both run: the second answers 409 while the first is in flight.
A request that fails with a 5xx, or is turned away for now with a 429, releases its key so
that it can be retried."""

import hashlib
from datetime import timedelta
from http import HTTPStatus
from typing import Annotated

from fastapi import Depends, Header
from sqlalchemy import delete, func, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.errors import DATABASE_UNAVAILABLE, Conflict, ValidationFailed, problem_response
from app.kit.database_errors import RAISED_WHEN_UNAVAILABLE, is_database_unavailable
from app.models import IdempotencyRecord

HEADER = "idempotency-key"
MAX_KEY_LENGTH = 255
_REPLAYED_HEADERS = {"content-type", "location", "etag"}


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
        principal = hashlib.sha256(headers.get("authorization", "").encode()).hexdigest()
        request_hash = hashlib.sha256(
            b"\0".join([scope["method"].encode(), scope["path"].encode(), body])
        ).hexdigest()
        sessionmaker: async_sessionmaker[AsyncSession] = scope["app"].state.sessionmaker

        try:
            claimed, record = await self._claim(sessionmaker, principal, key, scope, request_hash)
        except RAISED_WHEN_UNAVAILABLE as exc:
            if not is_database_unavailable(exc):
                raise
            response = problem_response(DATABASE_UNAVAILABLE, request, DATABASE_UNAVAILABLE.headers)
            await response(scope, receive, send)
            return
        if not claimed:
            assert record is not None
            await self._answer_again(record, request_hash, request, send)
            return
        await self._run_and_record(sessionmaker, principal, key, scope, body, send)

    async def _claim(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        principal: str,
        key: str,
        scope: Scope,
        request_hash: str,
    ) -> tuple[bool, IdempotencyRecord | None]:
        """Claims the key in a transaction of its own, or answers the record that holds it."""
        record = None
        async with sessionmaker() as session:
            await session.execute(
                delete(IdempotencyRecord).where(
                    IdempotencyRecord.principal == principal,
                    IdempotencyRecord.key == key,
                    IdempotencyRecord.created_at < func.now() - self.ttl,
                )
            )
            claimed = (
                await session.execute(
                    insert(IdempotencyRecord)
                    .values(
                        principal=principal,
                        key=key,
                        method=scope["method"],
                        path=scope["path"],
                        request_hash=request_hash,
                    )
                    .on_conflict_do_nothing()
                    .returning(IdempotencyRecord.key)
                )
            ).scalar_one_or_none() is not None
            await session.commit()
            if not claimed:
                record = await session.get_one(IdempotencyRecord, (principal, key))
        return claimed, record

    async def _run_and_record(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        principal: str,
        key: str,
        scope: Scope,
        body: bytes,
        send: Send,
    ) -> None:
        status = 500
        response_headers: list[tuple[str, str]] = []
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            nonlocal status, response_headers
            if message["type"] == "http.response.start":
                status = message["status"]
                response_headers = [
                    (k.decode("latin-1"), v.decode("latin-1"))
                    for k, v in message.get("headers", [])
                ]
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
            await send(message)

        async def replay_body() -> Message:
            return {"type": "http.request", "body": body, "more_body": False}

        try:
            await self.app(scope, replay_body, capture)
        finally:
            async with sessionmaker() as session:
                where = (IdempotencyRecord.principal == principal, IdempotencyRecord.key == key)
                if status >= 500 or status == HTTPStatus.TOO_MANY_REQUESTS:
                    await session.execute(delete(IdempotencyRecord).where(*where))
                else:
                    kept = [[k, v] for k, v in response_headers if k.lower() in _REPLAYED_HEADERS]
                    await session.execute(
                        update(IdempotencyRecord)
                        .where(*where)
                        .values(
                            status_code=status,
                            response_headers={"headers": kept},
                            response_body=b"".join(chunks),
                        )
                    )
                await session.commit()

    async def _answer_again(
        self, record: IdempotencyRecord, request_hash: str, request: Request, send: Send
    ) -> None:
        if record.request_hash != request_hash:
            problem = Conflict(
                "This Idempotency-Key was already used with another request body or path. "
                "Use a new key for a new request."
            )
        elif record.status_code is None:
            problem = Conflict(
                "A request with this Idempotency-Key is still being processed; retry later."
            )
        else:
            stored = (record.response_headers or {}).get("headers", [])
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


def _document_idempotency_key(
    key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            max_length=MAX_KEY_LENGTH,
            description="Makes a retry safe: the same key and body answer the first response again "
            "(header `Idempotent-Replayed: true`) without doing the work twice; the same key with "
            "another body answers 409. Keys are kept 24 hours, per API key; a 5xx or a 429 "
            "keeps none, so that the retry runs.",
        ),
    ] = None,
) -> None:
    """Declares the header in the OpenAPI document; the middleware above does the work."""


IdempotencyKey = Depends(_document_idempotency_key)
