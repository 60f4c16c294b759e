"""Rate limits: an app with a low limit (5 requests per 60 s) over the suite's database, called
through its ASGI interface from client addresses of each test's own, so that no other test's
requests count here. A key's sixth request answers 429 with `Retry-After` and the RateLimit
fields; another key goes on; two app instances (two API processes) share the count; requests
without a valid key, and the open data, count by address; a new window lets requests through
again."""

import asyncio
import itertools
import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from app.auth import hash_credential
from app.gateway.rate_limit import purge_ended_windows
from app.gateway.rate_limit_purge import PURGE_ENDED_RATE_LIMIT_WINDOWS
from app.kit import notifications
from app.main import create_app
from app.worker.registry import create_job_app
from testbed.workers import eventually
from tests.conftest import ADMIN_TOKEN, Org, OrgFactory, assert_problem, settings_for
from tests.statements import statements_of

LIMIT = 5
WINDOW_S = 60
ME = "/v1/organizations/me"


@asynccontextmanager
async def limited_app(database_url: str, **overrides: Any) -> AsyncIterator[FastAPI]:
    """An API process with a limit of 5 requests per 60 s (unless `overrides` say otherwise)."""
    app = create_app(
        settings_for(
            database_url,
            **{"rate_limit_requests": LIMIT, "rate_limit_window_seconds": WINDOW_S, **overrides},
        )
    )
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture(scope="module")
async def limited(database_url: str) -> AsyncIterator[FastAPI]:
    async with limited_app(database_url) as app:
        yield app


@asynccontextmanager
async def client_of(app: FastAPI, address: str | None = None) -> AsyncIterator[httpx.AsyncClient]:
    """A client of `app` calling from `address` (a new one by default)."""
    transport = httpx.ASGITransport(app=app, client=(address or unique_ipv4(), 4711))
    async with httpx.AsyncClient(transport=transport, base_url="http://boucle.test") as client:
        yield client


# Addresses in 10.0.0.0/8, one after the other from a random start: none twice in a run, and
# none of a previous run's (on a database kept between runs) in all likelihood.
_ADDRESSES = itertools.count(uuid.uuid4().int % 2**23)


def unique_ipv4() -> str:
    number = next(_ADDRESSES)
    return f"10.{(number >> 16) & 255}.{(number >> 8) & 255}.{number & 255}"


def fields(response: httpx.Response, limit: int = LIMIT) -> tuple[str, int, int]:
    """The RateLimit field's policy, requests left and seconds left, checked against the
    RateLimit-Policy field of the app's limit."""
    policy = re.fullmatch(r'"(key|address)";q=(\d+);w=(\d+)', response.headers["ratelimit-policy"])
    assert policy is not None, response.headers["ratelimit-policy"]
    assert (int(policy[2]), int(policy[3])) == (limit, WINDOW_S)
    state = re.fullmatch(r'"(key|address)";r=(\d+);t=(\d+)', response.headers["ratelimit"])
    assert state is not None and state[1] == policy[1], response.headers["ratelimit"]
    assert 0 < int(state[3]) <= WINDOW_S
    return state[1], int(state[2]), int(state[3])


def assert_limited(response: httpx.Response, policy: str) -> None:
    """A 429 problem of the rate limit, whose Retry-After is the end of the window."""
    body = assert_problem(response, 429)
    assert body["type"].endswith("/rate-limited")
    assert fields(response)[:2] == (policy, 0)
    assert int(response.headers["retry-after"]) == fields(response)[2]


async def sql(app: FastAPI, query: str, **params: Any) -> list[Any]:
    async with app.state.sessionmaker() as session:
        result = await session.execute(text(query), params)
        rows = list(result.all()) if result.returns_rows else []
        await session.commit()
    return rows


async def end_window(app: FastAPI, subject: str) -> None:
    """Moves the end of `subject`'s window into the past, as if its 60 s had gone by."""
    await sql(
        app,
        "UPDATE rate_limit_counters SET window_ends_at = now() - interval '1 second' "
        "WHERE subject = :subject",
        subject=subject,
    )


async def key_id(app: FastAPI, org: Org) -> str:
    [row] = await sql(
        app, "SELECT id::text FROM api_keys WHERE key_hash = :h", h=hash_credential(org.key)
    )
    return str(row.id)


async def test_a_key_s_sixth_request_answers_429_and_another_key_goes_on(
    limited: FastAPI, make_org: OrgFactory
) -> None:
    busy, other = await make_org(), await make_org()
    async with client_of(limited) as client:
        for left in range(LIMIT - 1, -1, -1):
            served = await client.get(ME, headers=busy.headers)
            assert served.status_code == 200, served.text
            assert fields(served)[:2] == ("key", left)
        refused = await client.get(ME, headers=busy.headers)
        assert_limited(refused, "key")
        assert "This API key has sent its 5 requests per 60 s" in refused.json()["detail"]
        # Writes are refused alike, before their Idempotency-Key is held.
        idempotency_key = f"during-the-limit-{uuid.uuid4()}"
        write = await client.post(
            "/v1/sites",
            json={"name": "x"},
            headers={**busy.headers, "Idempotency-Key": idempotency_key},
        )
        assert_limited(write, "key")
        held = "SELECT 1 FROM idempotency_keys WHERE key = :key"
        assert await sql(limited, held, key=idempotency_key) == []

        # From the same address, another organization's key has its own count.
        for left in (LIMIT - 1, LIMIT - 2):
            served = await client.get(ME, headers=other.headers)
            assert served.status_code == 200 and fields(served)[:2] == ("key", left)


async def test_two_api_processes_share_a_key_s_count(
    database_url: str, make_org: OrgFactory
) -> None:
    org = await make_org()
    async with (
        limited_app(database_url) as first,
        limited_app(database_url) as second,
        client_of(first) as one,
        client_of(second) as two,
    ):
        answers = [await (one if n % 2 else two).get(ME, headers=org.headers) for n in range(LIMIT)]
        assert [a.status_code for a in answers] == [200] * LIMIT
        assert [fields(a)[1] for a in answers] == [4, 3, 2, 1, 0]
        assert_limited(await one.get(ME, headers=org.headers), "key")
        assert_limited(await two.get(ME, headers=org.headers), "key")


async def test_requests_without_a_valid_key_and_the_open_data_count_by_address(
    limited: FastAPI, make_org: OrgFactory
) -> None:
    org = await make_org()
    address = unique_ipv4()
    async with client_of(limited, address) as client:
        anonymous = [
            await client.get(ME),
            await client.get(ME, headers={"Authorization": "Bearer bk_not-a-key"}),
            await client.get("/v1/materials", headers={"Authorization": "Basic eDp5"}),
            await client.get("/ogc/conformance"),
            # The open data counts by address, whatever key comes with it.
            await client.get("/ogc/conformance", headers=org.headers),
        ]
        assert [a.status_code for a in anonymous] == [401, 401, 401, 200, 200]
        assert [fields(a)[:2] for a in anonymous] == [("address", n) for n in (4, 3, 2, 1, 0)]
        refused = await client.get("/ogc/conformance")
        assert_limited(refused, "address")
        assert "Each API key has a limit of its own" in refused.json()["detail"]
        assert_limited(await client.get(ME, headers={"Authorization": "Bearer bk_x"}), "address")

        # A valid key from that address is not limited by it; nor did the wrong keys count
        # against any organization's key.
        served = await client.get(ME, headers=org.headers)
        assert served.status_code == 200 and fields(served)[:2] == ("key", LIMIT - 1)

    # Another address has a count of its own.
    async with client_of(limited) as elsewhere:
        assert fields(await elsewhere.get(ME))[:2] == ("address", LIMIT - 1)


async def test_an_ipv6_subscriber_s_addresses_share_one_count(limited: FastAPI) -> None:
    prefix = f"2001:db8:{uuid.uuid4().int % 65536:x}:{uuid.uuid4().int % 65536:x}"
    for host in range(1, LIMIT + 1):
        async with client_of(limited, f"{prefix}::{host:x}") as client:
            assert (await client.get(ME)).status_code == 401
    async with client_of(limited, f"{prefix}:ffff:ffff:ffff:ffff") as client:
        assert_limited(await client.get(ME), "address")


async def test_the_admin_token_is_limited_like_a_key(limited: FastAPI) -> None:
    # The suite's other apps count the admin token's requests too, with a far higher limit.
    await sql(limited, "DELETE FROM rate_limit_counters WHERE subject = 'admin'")
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    async with client_of(limited) as client:
        for left in range(LIMIT - 1, -1, -1):
            listed = await client.get("/v1/organizations", headers=admin)
            assert listed.status_code == 200 and fields(listed)[:2] == ("key", left)
        assert_limited(await client.get("/v1/organizations", headers=admin), "key")
    await sql(limited, "DELETE FROM rate_limit_counters WHERE subject = 'admin'")


async def test_a_new_window_lets_requests_through_and_ended_windows_are_swept(
    limited: FastAPI, make_org: OrgFactory
) -> None:
    org = await make_org()
    subject = f"key:{await key_id(limited, org)}"
    address = unique_ipv4()
    async with client_of(limited, address) as client:
        assert (await client.get(ME)).status_code == 401  # a window that goes on
        for _ in range(LIMIT):
            assert (await client.get(ME, headers=org.headers)).status_code == 200
        assert_limited(await client.get(ME, headers=org.headers), "key")

        await end_window(limited, subject)
        again = await client.get(ME, headers=org.headers)
        assert again.status_code == 200 and fields(again)[:2] == ("key", LIMIT - 1)

    await end_window(limited, subject)
    async with limited.state.sessionmaker.begin() as session:
        assert await purge_ended_windows(session) >= 1
    counted = "SELECT subject FROM rate_limit_counters WHERE subject IN (:ended, :running)"
    rows = await sql(limited, counted, ended=subject, running=f"address:{address}")
    assert [row.subject for row in rows] == [f"address:{address}"]
    assert PURGE_ENDED_RATE_LIMIT_WINDOWS in create_job_app(limited.state.settings).tasks


async def test_a_request_with_a_key_looks_it_up_once(
    limited: FastAPI, make_org: OrgFactory
) -> None:
    org = await make_org()
    async with client_of(limited) as client:
        # The first use writes `last_used_at`; the next ones within a minute only read.
        assert (await client.get(ME, headers=org.headers)).status_code == 200
        with statements_of(limited) as statements:
            served = await client.get(ME, headers=org.headers)
            await asyncio.sleep(0.05)  # asyncpg calls its query loggers soon after
        assert served.status_code == 200 and served.json()["id"] == org.id
        assert fields(served)[0] == "key"
        # One statement in all: the count, which looked the key up with its organization (what
        # /me answers); the request's session ran none.
        assert len(statements) == 1 and statements[0].count("FROM api_keys") == 1, statements


async def test_the_database_away_answers_503_and_0_turns_the_limit_off(database_url: str) -> None:
    # A port nothing listens on. Without the limit, a request without a key needs no database
    # and answers 401; the limit's count cannot be made, and says so with a 503.
    async with (
        limited_app("postgresql+asyncpg://postgres@127.0.0.1:9/boucle") as away,
        client_of(away) as client,
    ):
        for path in (ME, "/v1/offers", "/ogc/collections"):
            answer = await client.get(path)
            assert_problem(answer, 503)
            assert answer.headers["retry-after"] == "5" and "ratelimit" not in answer.headers
    async with (
        limited_app(database_url, rate_limit_requests=0) as unlimited,
        client_of(unlimited) as client,
    ):
        answers = [await client.get(ME) for _ in range(LIMIT + 1)]
        assert [a.status_code for a in answers] == [401] * (LIMIT + 1)
        assert not [a for a in answers if "ratelimit" in a.headers]


# A limit high enough for the process to reserve requests (`app.gateway.grants`).
RESERVING_LIMIT = 1000


@asynccontextmanager
async def reserving_app(database_url: str) -> AsyncIterator[FastAPI]:
    """An API process whose limit lets it reserve requests, listening to the changes of keys
    (`app.kit.notifications`)."""
    async with limited_app(database_url, rate_limit_requests=RESERVING_LIMIT) as app:
        await eventually(lambda: app.state.grants.listening, within_s=10)
        yield app


def counts_of(statements: list[str]) -> int:
    return sum("rate_limit_counters" in statement for statement in statements)


async def test_a_busy_key_is_served_from_a_reserve_counted_ahead(
    database_url: str, make_org: OrgFactory
) -> None:
    org = await make_org()
    async with reserving_app(database_url) as app, client_of(app) as client:
        subject = f"key:{await key_id(app, org)}"
        with statements_of(app) as statements:
            answers = [await client.get(ME, headers=org.headers) for _ in range(12)]
            await asyncio.sleep(0.05)  # asyncpg calls its query loggers soon after
        assert [a.status_code for a in answers] == [200] * 12
        assert [fields(a, RESERVING_LIMIT)[1] for a in answers] == [999 - n for n in range(12)]
        # The first request is counted alone; the second counts itself and reserves 10 more,
        # which the next ten use without a statement.
        assert counts_of(statements) == 2, statements
        counted = "SELECT count FROM rate_limit_counters WHERE subject = :subject"
        assert [row.count for row in await sql(app, counted, subject=subject)] == [12]
        # The thirteenth asks again and reserves 10 more: the count runs ahead of the
        # requests served, never behind them.
        answer = await client.get(ME, headers=org.headers)
        assert answer.status_code == 200 and fields(answer, RESERVING_LIMIT)[1] == 987
        assert [row.count for row in await sql(app, counted, subject=subject)] == [23]

        # Requests at once, some reserving together: each serves a count of its own, and
        # every count served is counted.
        together = await asyncio.gather(*(client.get(ME, headers=org.headers) for _ in range(40)))
        assert [a.status_code for a in together] == [200] * 40
        served = sorted(RESERVING_LIMIT - fields(a, RESERVING_LIMIT)[1] for a in together)
        assert len(set(served)) == 40 and served[0] == 14, served
        [row] = await sql(app, counted, subject=subject)
        assert row.count >= served[-1]


async def test_a_revoked_key_is_refused_by_every_process_that_kept_it(
    database_url: str, make_org: OrgFactory
) -> None:
    org = await make_org()
    async with (
        reserving_app(database_url) as first,
        reserving_app(database_url) as second,
        client_of(first) as one,
        client_of(second) as two,
    ):
        made = await one.post(f"{ME}/keys", json={"name": "kept"}, headers=org.headers)
        assert made.status_code == 201, made.text
        kept = {"Authorization": f"Bearer {made.json()['api_key']}"}
        # Each process keeps the key with a reserve of requests.
        for client in (one, two):
            assert [(await client.get(ME, headers=kept)).status_code for _ in range(3)] == [200] * 3
        heard = second.state.grants.generation

        revoked = await one.delete(f"{ME}/keys/{made.json()['id']}", headers=org.headers)
        assert revoked.status_code == 204, revoked.text
        # The process that revoked it forgot it before the revocation committed.
        assert (await one.get(ME, headers=kept)).status_code == 401
        # The other forgets it on the database's notification, and then asks.
        await eventually(lambda: second.state.grants.generation != heard, within_s=5)
        assert (await two.get(ME, headers=kept)).status_code == 401
        assert (await two.get(ME, headers=org.headers)).status_code == 200


async def test_a_process_that_cannot_listen_keeps_nothing(
    database_url: str, make_org: OrgFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    org = await make_org()
    end_listening = (
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
        " WHERE query LIKE 'LISTEN%' AND datname = current_database()"
    )
    async with reserving_app(database_url) as app, client_of(app) as client:
        # Its listening connection ended (as a restart or a failover would end it): it
        # listens again.
        await sql(app, end_listening)
        await eventually(lambda: not app.state.grants.listening, within_s=5)
        await eventually(lambda: app.state.grants.listening, within_s=10)

        # Ended again, and this time it waits long before listening again: meanwhile every
        # request asks the database, nothing is reserved.
        monkeypatch.setattr(notifications, "RETRY_SECONDS", 3600.0)
        await sql(app, end_listening)
        await eventually(lambda: not app.state.grants.listening, within_s=5)
        with statements_of(app) as statements:
            answers = [await client.get(ME, headers=org.headers) for _ in range(4)]
            await asyncio.sleep(0.05)
        assert [a.status_code for a in answers] == [200] * 4
        assert counts_of(statements) == 4, statements
