"""Rate limits. Each API key, and the admin token, may send `rate_limit_requests` requests to
/v1 per window of `rate_limit_window_seconds`; so may each client address without a valid key,
and to the open data at /ogc. Past that, every request answers 429 problem+json with
`Retry-After` until the window ends. A key's count is its own: one organization's burst never
limits another, and a wrong key counts against its sender's address, never against the key's
owner.

The counts are rows in PostgreSQL, so that every API process counts towards the same limit. A
request costs one statement, outside any transaction, that counts it and, in the same round
trip, looks its key up; the lookup is kept on the request for authentication to use
(`app.auth.active_key`), so that a request with a key makes no more round trips than before.
That statement may count a few requests more, reserved for the process, which serves them
without asking (`app.gateway.grants`).
A window begins with a caller's first request after its previous window ended, not on one
clock for all callers, so that the limited ones do not all come back at the same second.
Every request counts one, whatever it costs: the costly ones (route plans, matching runs)
have a quota of their own, and with one unit per request a client reads `r` at face value,
as the requests it has left.

Every answer to a limited path carries the fields of the IETF draft "RateLimit header fields
for HTTP" (draft-ietf-httpapi-ratelimit-headers-11, May 2026, sections 3 and 4:
https://datatracker.ietf.org/doc/draft-ietf-httpapi-ratelimit-headers/11/), the policy, whose
name is a String item, and what is left of it in the current window:

    RateLimit-Policy: "key";q=1200;w=60
    RateLimit: "key";r=1187;t=42

(`"address"` for a count by address; `r` requests left, `t` seconds until the window ends);
a 429 has `Retry-After` equal to `t`, the draft's advice (section 6)."""

import ipaddress
import math
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Float,
    Integer,
    Select,
    Text,
    bindparam,
    case,
    cast,
    delete,
    func,
    literal,
    select,
    true,
)
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.sql.dml import ReturningInsert
from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.auth import (
    ACTIVE_KEY_QUERY,
    bearer_token,
    is_admin_token,
    key_of_row,
    key_parameters,
    remember_key_lookup,
)
from app.db import run_alone
from app.gateway.grants import Grants
from app.kit.database_errors import RAISED_WHEN_UNAVAILABLE, is_database_unavailable
from app.kit.problems import (
    Problem,
    TooManyRequests,
    database_unavailable_response,
    problem_response,
)
from app.models import RateLimitCounter
from app.settings import Settings

# What a browser's script may read of an answer from another origin (CORS).
RATE_LIMIT_FIELDS = ("RateLimit", "RateLimit-Policy", "Retry-After")
KEY_POLICY = "key"
ADDRESS_POLICY = "address"
ADMIN_SUBJECT = "admin"


class RateLimited(TooManyRequests):
    slug = "rate-limited"


@dataclass(frozen=True)
class Count:
    """A caller's requests in its current window, this one included."""

    policy: str
    requests: int
    seconds_left: int


class RateLimitMiddleware:
    """Limits the requests under the paths `by_key` (by key, else by address) and `by_address`
    (by address, whatever key they carry: the open data needs none)."""

    def __init__(
        self,
        app: ASGIApp,
        settings: Settings,
        engine: AsyncEngine,
        grants: Grants,
        by_key: tuple[str, ...],
        by_address: tuple[str, ...],
    ) -> None:
        self.app = app
        self.settings = settings
        self.engine = engine
        self.grants = grants
        self.by_key = by_key
        self.by_address = by_address
        self.limit = settings.rate_limit_requests
        self.window = timedelta(seconds=settings.rate_limit_window_seconds)
        # Made once, run with each request's parameters: building a statement costs more
        # than running it.
        self.counting = self._counting(bindparam("subject"))
        self.counting_with_key = self._counting_with_key()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not under(scope["path"], self.by_key + self.by_address):
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        try:
            count = await self._count(scope, keyed=under(scope["path"], self.by_key))
        except RAISED_WHEN_UNAVAILABLE as exc:
            if not is_database_unavailable(exc):
                raise
            await database_unavailable_response(request)(scope, receive, send)
            return
        except Problem as problem:  # a connection refused as privileged (app.kit.least_privilege)
            await problem_response(problem, request, problem.headers)(scope, receive, send)
            return
        fields = self._fields(count)
        if count.requests > self.limit:
            refusal = self._refusal(count)
            answer = problem_response(refusal, request, {**refusal.headers, **fields})
            await answer(scope, receive, send)
            return

        async def with_fields(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                MutableHeaders(scope=message).update(fields)
            await send(message)

        await self.app(scope, receive, with_fields)

    async def _count(self, scope: Scope, keyed: bool) -> Count:
        """Counts the request against its key, or the admin token, or its address; a key is
        looked up in the same statement, and the lookup kept on the request."""
        address = address_subject(scope)
        token = bearer_token(Headers(scope=scope).get("authorization")) if keyed else None
        if token is None:
            return await self._count_caller(scope, address, ADDRESS_POLICY, {"subject": address})
        if is_admin_token(self.settings, token):
            subject = {"subject": ADMIN_SUBJECT}
            return await self._count_caller(scope, ADMIN_SUBJECT, KEY_POLICY, subject)
        parameters = {"address": address, **key_parameters(token)}
        return await self._count_caller(
            scope, parameters["key_hash"], KEY_POLICY, parameters, token=token
        )

    async def _count_caller(
        self,
        scope: Scope,
        caller: str,
        policy: str,
        parameters: dict[str, str],
        token: str | None = None,
    ) -> Count:
        """The count of `caller`: from this process's reserve of its requests when it has one
        left (counted already: no statement), else from the database, with a reserve when it
        is due. With a `token`, the key it is is looked up in the same statement (and counted
        by address when it is none); either way the lookup is kept on the request."""
        served = self.grants.serve(caller)
        if served is not None:
            if token is not None:
                remember_key_lookup(scope, token, served.key)
            return Count(served.policy, served.requests, served.seconds_left)
        generation, reserve = self.grants.generation, self.grants.to_reserve(caller)
        statement = self.counting if token is None else self.counting_with_key
        [row] = await run_alone(self.engine, statement, {**parameters, "n": 1 + reserve})
        key = None
        if token is not None:
            key = key_of_row(row)
            remember_key_lookup(scope, token, key)
            policy = ADDRESS_POLICY if key is None else KEY_POLICY
        # The request's own count: the window's, less the requests reserved after it.
        count = Count(policy, row["requests"] - reserve, max(1, math.ceil(row["window_left"])))
        # A wrong key is not kept: its address's count goes on in the database.
        if token is None or key is not None:
            self.grants.keep(
                caller, generation, policy, key, count.requests, reserve, row["window_left"]
            )
        return count

    def _counting(self, subject: ColumnElement[str]) -> ReturningInsert[int, float]:
        """`n` more requests of `subject` (this one and those reserved after it), in its window
        or in a new one if that has ended; answers the window's `requests` and the seconds
        left of it, `window_left`."""
        now = func.now()
        requests = bindparam("n", type_=Integer)
        proposed = insert(RateLimitCounter).values(
            subject=subject, window_ends_at=now + self.window, count=requests
        )
        running = RateLimitCounter.window_ends_at > now
        return proposed.on_conflict_do_update(
            index_elements=[RateLimitCounter.subject],
            set_={
                "count": case((running, RateLimitCounter.count + requests), else_=requests),
                "window_ends_at": case(
                    (running, RateLimitCounter.window_ends_at),
                    else_=proposed.excluded.window_ends_at,
                ),
            },
        ).returning(
            RateLimitCounter.count.label("requests"),
            cast(func.extract("epoch", RateLimitCounter.window_ends_at - now), Float).label(
                "window_left"
            ),
        )

    def _counting_with_key(self) -> Select[Any]:
        """The count of the key whose parameters are `key_parameters(token)`, or of the
        `address` when it is no active key, with the key's columns (null when there is
        none)."""
        caller = ACTIVE_KEY_QUERY.cte("caller")
        key_subject = select(literal("key:") + cast(caller.c.id, Text)).scalar_subquery()
        counted = self._counting(func.coalesce(key_subject, bindparam("address"))).cte("counted")
        return select(counted.c.requests, counted.c.window_left, *caller.c).select_from(
            counted.outerjoin(caller, true())
        )

    def _fields(self, count: Count) -> dict[str, str]:
        window_s = self.settings.rate_limit_window_seconds
        left = max(0, self.limit - count.requests)
        return {
            "RateLimit-Policy": f'"{count.policy}";q={self.limit};w={window_s}',
            "RateLimit": f'"{count.policy}";r={left};t={count.seconds_left}',
        }

    def _refusal(self, count: Count) -> RateLimited:
        allowed = f"{self.limit} requests per {self.settings.rate_limit_window_seconds} s"
        wait = f"try again in {count.seconds_left} s"
        if count.policy == KEY_POLICY:
            return RateLimited(f"This API key has sent its {allowed}: {wait}.", count.seconds_left)
        return RateLimited(
            f"This address has sent its {allowed} without a valid API key: {wait}. Each API "
            "key has a limit of its own.",
            count.seconds_left,
        )


def under(path: str, prefixes: tuple[str, ...]) -> bool:
    return any(path == prefix or path.startswith(prefix + "/") for prefix in prefixes)


def address_subject(scope: Scope) -> str:
    """Who a request without a key is: its client's address (as the proxy in front says, with
    uvicorn's `--proxy-headers`); for IPv6, its /64, all of which one subscriber holds."""
    host = (scope.get("client") or ("",))[0]
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return f"address:{host[:100]}"
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return f"address:{address.ipv4_mapped}"
        return f"address:{ipaddress.IPv6Network((address, 64), strict=False)}"
    return f"address:{address}"


async def purge_ended_windows(session: AsyncSession) -> int:
    """Deletes the counters whose window has ended, in the caller's transaction; answers how many."""
    result = await session.execute(
        delete(RateLimitCounter).where(RateLimitCounter.window_ends_at <= func.now())
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
