"""One transaction per request: the session dependency commits before the response is sent and
rolls back on any error, so that a client never holds a 2xx for work that was not written, and
a request that fails leaves nothing behind; an idempotent POST's record is written in the same
transaction as its work. Through real HTTP on the app and a real PostgreSQL, whose commit is
made to fail by a deferred constraint trigger (checked at COMMIT only)."""

import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from app.settings import PROJECT_ROOT
from tests.conftest import (
    RECY_K,
    Org,
    OrgFactory,
    assert_problem,
    connect_raw,
    point,
)
from tests.test_keys_and_idempotency import records, sql
from tests.test_match_terms import _accept_by_both
from tests.test_matches import _offer, _propose, _request

RefuseAtCommit = Callable[[str, str, str], Awaitable[str]]


@pytest.fixture
async def refuse_at_commit(database_url: str) -> AsyncIterator[RefuseAtCommit]:
    """Makes the COMMIT of a transaction fail when it wrote a row of `table` (on `event`,
    INSERT or UPDATE) that meets `condition`: a constraint trigger DEFERRABLE INITIALLY
    DEFERRED, made by the superuser. Answers the trigger's name; all are dropped after the
    test."""
    superuser = await connect_raw(database_url)
    made: list[tuple[str, str]] = []
    await superuser.execute(
        """CREATE OR REPLACE FUNCTION test_refuse_at_commit() RETURNS trigger
           LANGUAGE plpgsql AS $$
           BEGIN
             RAISE EXCEPTION 'refused at commit by the test';
           END $$"""
    )

    async def refuse(table: str, event: str, condition: str) -> str:
        name = f"test_refuse_{uuid.uuid4().hex[:12]}"
        await superuser.execute(
            f"CREATE CONSTRAINT TRIGGER {name} AFTER {event} ON {table} "
            f"DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN ({condition}) "
            "EXECUTE FUNCTION test_refuse_at_commit()"
        )
        made.append((name, table))
        return name

    try:
        yield refuse
    finally:
        for name, table in made:
            await superuser.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
        await superuser.close()


async def _drop_trigger(database_url: str, name: str, table: str) -> None:
    superuser: asyncpg.Connection = await connect_raw(database_url)
    try:
        await superuser.execute(f"DROP TRIGGER {name} ON {table}")
    finally:
        await superuser.close()


def _site(name: str) -> dict[str, object]:
    return {"name": name, "kind": "yard", "location": point(RECY_K)}


async def _sites_named(app: FastAPI, name: str) -> int:
    [row] = await sql(app, "SELECT count(*) AS n FROM sites WHERE name = :name", name=name)
    return int(row.n)


async def test_a_write_whose_commit_fails_answers_an_error_and_never_a_2xx(
    client: httpx.AsyncClient, app: FastAPI, make_org: OrgFactory, refuse_at_commit: RefuseAtCommit
) -> None:
    org = await make_org()
    refused = f"refused at commit {uuid.uuid4().hex[:8]}"
    await refuse_at_commit("sites", "INSERT", f"NEW.name = '{refused}'")

    answer = await client.post("/v1/sites", json=_site(refused), headers=org.headers)
    # The commit runs before the response is sent: its failure is the answer.
    assert_problem(answer, 500)
    assert "location" not in answer.headers
    assert await _sites_named(app, refused) == 0

    # The trigger refuses that one row only: any other site is written and answered 201.
    kept = f"kept {uuid.uuid4().hex[:8]}"
    created = await client.post("/v1/sites", json=_site(kept), headers=org.headers)
    assert created.status_code == 201, created.text
    assert await _sites_named(app, kept) == 1


async def test_a_request_that_fails_after_writing_leaves_nothing_behind(
    client: httpx.AsyncClient, app: FastAPI, make_org: OrgFactory, refuse_at_commit: RefuseAtCommit
) -> None:
    """The second acceptance writes the match, the offer's and the request's remaining and the
    events; its commit fails, and none of it stays."""
    supplier, consumer = await make_org("supplier"), await make_org("consumer")
    offer, request = await _offer(client, supplier, 12), await _request(client, consumer, 4)
    match = (await _propose(client, consumer, offer, request)).json()
    first = await client.post(f"/v1/matches/{match['id']}/accept", headers=consumer.headers)
    assert first.status_code == 200, first.text
    await refuse_at_commit(
        "matches", "UPDATE", f"NEW.id = '{match['id']}' AND NEW.status = 'accepted'"
    )
    [events_before] = await sql(app, "SELECT count(*) AS n FROM webhook_events")

    second = await client.post(f"/v1/matches/{match['id']}/accept", headers=supplier.headers)
    assert_problem(second, 500)

    now = (await client.get(f"/v1/matches/{match['id']}", headers=supplier.headers)).json()
    assert now["status"] == "proposed" and now["offer_accepted_at"] is None
    assert now["request_accepted_at"] == first.json()["request_accepted_at"]
    assert now["version"] == first.json()["version"]
    offer_now = (await client.get(f"/v1/offers/{offer['id']}", headers=supplier.headers)).json()
    request_now = (
        await client.get(f"/v1/requests/{request['id']}", headers=consumer.headers)
    ).json()
    assert offer_now["remaining"] == {"value": 12.0, "unit": "t"}
    assert request_now["remaining"] == {"value": 4.0, "unit": "t"}
    assert request_now["status"] == "open"
    [events_after] = await sql(app, "SELECT count(*) AS n FROM webhook_events")
    assert events_after.n == events_before.n


async def test_an_idempotent_post_and_its_record_agree(
    client: httpx.AsyncClient, app: FastAPI, make_org: OrgFactory
) -> None:
    org = await make_org()
    key = f"agree-{uuid.uuid4()}"
    name = f"recorded {uuid.uuid4().hex[:8]}"
    headers = {**org.headers, "Idempotency-Key": key}

    created = await client.post("/v1/sites", json=_site(name), headers=headers)
    assert created.status_code == 201, created.text
    [record] = await records(app, key)
    assert record.status_code == 201 and record.locked_until is None
    assert record.response_body == created.content
    stored = dict(record.response_headers["headers"])
    assert stored["location"] == created.headers["location"]
    assert stored["etag"] == created.headers["etag"]

    again = await client.post("/v1/sites", json=_site(name), headers=headers)
    assert again.status_code == 201 and again.headers["idempotent-replayed"] == "true"
    assert again.content == created.content
    assert await _sites_named(app, name) == 1


async def test_when_an_idempotent_posts_commit_fails_no_record_claims_success(
    client: httpx.AsyncClient,
    app: FastAPI,
    database_url: str,
    make_org: OrgFactory,
    refuse_at_commit: RefuseAtCommit,
) -> None:
    org = await make_org()
    key = f"refused-{uuid.uuid4()}"
    name = f"refused at commit {uuid.uuid4().hex[:8]}"
    headers = {**org.headers, "Idempotency-Key": key}
    trigger = await refuse_at_commit("sites", "INSERT", f"NEW.name = '{name}'")

    refused = await client.post("/v1/sites", json=_site(name), headers=headers)
    assert_problem(refused, 500)
    assert "idempotent-replayed" not in refused.headers
    # Neither the work nor a record of it: the key is free for the retry.
    assert await _sites_named(app, name) == 0
    assert await records(app, key) == []

    await _drop_trigger(database_url, trigger, "sites")
    retried = await client.post("/v1/sites", json=_site(name), headers=headers)
    assert retried.status_code == 201, retried.text
    assert "idempotent-replayed" not in retried.headers
    assert await _sites_named(app, name) == 1
    [record] = await records(app, key)
    assert record.status_code == 201 and record.response_body == retried.content


async def test_an_idempotent_accept_on_broken_terms_records_its_409_and_the_match_expires(
    client: httpx.AsyncClient, app: FastAPI, make_org: OrgFactory
) -> None:
    """The expiry is written apart from the failing acceptance, and the 409 is recorded in the
    request's own transaction: replayed, it says the same."""
    supplier, consumer = await make_org("supplier"), await make_org("consumer")
    offer, request = await _offer(client, supplier, 12), await _request(client, consumer, 5)
    match = (await _propose(client, consumer, offer, request)).json()
    await sql(
        app,
        "UPDATE offers SET condition = 'C', version = version + 1 WHERE id = :id",
        id=offer["id"],
    )
    await sql(
        app, "UPDATE material_requests SET min_condition = 'B' WHERE id = :id", id=request["id"]
    )
    key = f"broken-{uuid.uuid4()}"
    headers = {**consumer.headers, "Idempotency-Key": key}

    refused = await client.post(f"/v1/matches/{match['id']}/accept", headers=headers)
    problem = assert_problem(refused, 409)
    assert "condition C" in problem["detail"] and "expired" in problem["detail"]
    read = await client.get(f"/v1/matches/{match['id']}", headers=supplier.headers)
    assert read.json()["status"] == "expired"
    [record] = await records(app, key)
    assert record.status_code == 409 and record.response_body == refused.content

    again = await client.post(f"/v1/matches/{match['id']}/accept", headers=headers)
    assert again.status_code == 409 and again.headers["idempotent-replayed"] == "true"
    assert again.content == refused.content
    # Accepted by the other side too, it stays expired.
    assert_problem(
        await _accept_by_both(client, match["id"], supplier),
        409,
    )


async def test_a_failed_request_still_records_its_keys_use(
    client: httpx.AsyncClient, app: FastAPI, make_org: OrgFactory
) -> None:
    """The key's last use is written apart: a request that fails does not take it back."""
    org: Org = await make_org()
    await sql(
        app,
        "UPDATE api_keys SET last_used_at = now() - interval '1 hour' WHERE organization_id = :id",
        id=org.id,
    )
    missing = await client.get(f"/v1/sites/{uuid.uuid4()}", headers=org.headers)
    assert_problem(missing, 404)
    [row] = await sql(
        app,
        "SELECT last_used_at > now() - interval '1 minute' AS fresh FROM api_keys "
        "WHERE organization_id = :id",
        id=org.id,
    )
    assert row.fresh


# Where `commit()` may be written in app/: the session dependency and the idempotency middleware
# that owns the session of a request it records. Jobs and the command-line loaders run their
# steps in `sessionmaker.begin()` blocks.
COMMITS_ALLOWED = {"app/kit/request_session.py", "app/gateway/idempotency.py"}
# Where a transaction may be rolled back by hand: the session owners and the helper that
# writes what a failing request must leave.
ROLLBACKS_ALLOWED = {
    "app/kit/request_session.py",
    "app/gateway/idempotency.py",
    "app/kit/transactions.py",
}


def _files_calling(pattern: str) -> set[str]:
    root = Path(PROJECT_ROOT)
    return {
        str(path.relative_to(root))
        for path in (root / "app").rglob("*.py")
        if re.search(pattern, path.read_text())
    }


def test_only_the_session_owners_commit() -> None:
    assert _files_calling(r"\.commit\(\)") <= COMMITS_ALLOWED
    assert _files_calling(r"\.rollback\(\)") <= ROLLBACKS_ALLOWED
    # The guard sees what it guards.
    assert {"app/kit/request_session.py", "app/gateway/idempotency.py"} <= _files_calling(
        r"\.commit\(\)"
    )
