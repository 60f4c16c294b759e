"""Several API keys per organization, and Idempotency-Keys that belong to the authenticated
organization, hold no secret, lapse when their request died and expire; the local cluster's
password."""

import stat
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.engine import URL, make_url

from app.gateway.idempotency import purge_expired
from app.gateway.idempotency_purge import PURGE_EXPIRED_IDEMPOTENCY_KEYS
from app.settings import PROJECT_ROOT
from app.worker.registry import create_job_app
from tests.conftest import (
    ADMIN_TOKEN,
    Org,
    OrgFactory,
    assert_problem,
    offer_body,
    remove_cluster,
    request_body,
)

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
PG = str(PROJECT_ROOT / "scripts" / "pg.sh")


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def sql(app: FastAPI, query: str, **params: Any) -> list[Any]:
    async with app.state.sessionmaker() as session:
        result = await session.execute(text(query), params)
        rows = list(result.all()) if result.returns_rows else []
        await session.commit()
    return rows


async def records(app: FastAPI, key: str) -> list[Any]:
    """The idempotency records of this client key, whoever's, each whole as text too."""
    return await sql(
        app, "SELECT r.*, r::text AS whole FROM idempotency_keys r WHERE key = :key", key=key
    )


async def new_key(client: httpx.AsyncClient, org: Org, name: str | None = None) -> dict[str, Any]:
    response = await client.post(
        "/v1/organizations/me/keys", json={"name": name} if name else {}, headers=org.headers
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_an_organizations_api_key_is_neither_kept_nor_replayed_by_idempotency(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    idempotency = {"Idempotency-Key": f"new-org-{uuid.uuid4()}"}
    body = {"name": "Recy-K", "roles": ["supplier"]}
    first = await client.post("/v1/organizations", json=body, headers={**ADMIN, **idempotency})
    assert first.status_code == 201
    assert first.headers["cache-control"] == "no-store"
    api_key = first.json()["api_key"]

    [record] = await records(app, idempotency["Idempotency-Key"])
    assert record.scope == "admin" and record.status_code == 201 and record.secret_withheld
    assert record.response_body is None
    assert api_key not in record.whole and api_key[3:] not in record.whole

    again = await client.post("/v1/organizations", json=body, headers={**ADMIN, **idempotency})
    problem = assert_problem(again, 409)
    assert problem["type"].endswith("/secret-shown-once")
    assert problem["location"] == first.headers["location"]
    assert first.headers["location"] in problem["detail"]
    assert api_key not in again.text
    # Nothing was created twice, and the key shown once works.
    assert (await client.get("/v1/organizations/me", headers=bearer(api_key))).json()["id"] == (
        first.json()["id"]
    )


async def test_a_new_key_is_not_kept_by_idempotency_either(
    client: httpx.AsyncClient, app: FastAPI, make_org: OrgFactory
) -> None:
    org = await make_org()
    headers = {**org.headers, "Idempotency-Key": f"new-key-{uuid.uuid4()}"}
    first = await client.post("/v1/organizations/me/keys", json={"name": "ci"}, headers=headers)
    assert first.status_code == 201 and first.headers["cache-control"] == "no-store"
    api_key = first.json()["api_key"]
    [record] = await records(app, headers["Idempotency-Key"])
    assert record.scope == org.id and api_key not in record.whole

    again = await client.post("/v1/organizations/me/keys", json={"name": "ci"}, headers=headers)
    problem = assert_problem(again, 409)
    assert problem["location"] == first.headers["location"] and api_key not in again.text
    # The location names the key, without the key.
    shown = await client.get(problem["location"], headers=org.headers)
    assert shown.status_code == 200 and shown.json()["name"] == "ci"
    assert "api_key" not in shown.json() and api_key not in shown.text
    listed = await client.get("/v1/organizations/me/keys", headers=org.headers)
    assert [k["name"] for k in listed.json()["items"]].count("ci") == 1


async def test_without_valid_credentials_an_idempotency_key_writes_nothing_and_answers_401(
    client: httpx.AsyncClient, app: FastAPI, make_org: OrgFactory
) -> None:
    key = f"anonymous-{uuid.uuid4()}"
    revoked_org = await make_org()
    spare = await new_key(client, revoked_org)
    revoked = await client.delete(
        f"/v1/organizations/me/keys/{spare['id']}", headers=revoked_org.headers
    )
    assert revoked.status_code == 204
    for credentials in (
        {},
        {"Authorization": "Bearer bk_not-a-key"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        bearer(spare["api_key"]),
    ):
        for _ in range(2):
            response = await client.post(
                "/v1/offers", json=offer_body(), headers={**credentials, "Idempotency-Key": key}
            )
            assert_problem(response, 401)
    # The admin route without the admin token: 403, and nothing kept either.
    org = await make_org()
    for _ in range(2):
        response = await client.post(
            "/v1/organizations",
            json={"name": "x", "roles": ["supplier"]},
            headers={**org.headers, "Idempotency-Key": key},
        )
        assert_problem(response, 403)
    assert [r.scope for r in await records(app, key)] == [org.id]


async def test_idempotency_keys_belong_to_the_organization_not_to_one_api_key(
    client: httpx.AsyncClient, app: FastAPI, make_org: OrgFactory
) -> None:
    key = {"Idempotency-Key": f"shared-{uuid.uuid4()}"}
    first_org, second_org = await make_org(), await make_org()
    first = await client.post("/v1/offers", json=offer_body(), headers={**first_org.headers, **key})
    theirs = await client.post(
        "/v1/offers", json=offer_body(), headers={**second_org.headers, **key}
    )
    assert first.status_code == theirs.status_code == 201
    assert first.json()["id"] != theirs.json()["id"] and "idempotent-replayed" not in theirs.headers
    assert sorted(r.scope for r in await records(app, key["Idempotency-Key"])) == sorted(
        [first_org.id, second_org.id]
    )

    # Another key of the first organization retries the same request: the same answer.
    other_key = await new_key(client, first_org)
    again = await client.post(
        "/v1/offers", json=offer_body(), headers={**bearer(other_key["api_key"]), **key}
    )
    assert again.status_code == 201 and again.headers["idempotent-replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]


async def test_a_key_used_on_another_path_or_with_another_body_answers_409_and_writes_nothing(
    client: httpx.AsyncClient, make_org: OrgFactory
) -> None:
    org = await make_org()
    key = {**org.headers, "Idempotency-Key": f"once-{uuid.uuid4()}"}
    first = await client.post("/v1/offers", json=offer_body(), headers=key)
    assert first.status_code == 201, first.text
    for path, body in (
        ("/v1/requests", request_body()),
        ("/v1/offers", offer_body(title="Another body")),
    ):
        refused = await client.post(path, json=body, headers=key)
        assert "another request body or path" in assert_problem(refused, 409)["detail"]
    requests = await client.get("/v1/requests", params={"mine": "true"}, headers=org.headers)
    offers = await client.get("/v1/offers", params={"mine": "true"}, headers=org.headers)
    assert requests.json()["features"] == []
    assert [f["id"] for f in offers.json()["features"]] == [first.json()["id"]]


async def test_an_idempotency_key_of_1_to_255_characters_is_taken_and_no_other(
    client: httpx.AsyncClient, make_org: OrgFactory
) -> None:
    org = await make_org()
    for key in ("", "k" * 256):
        refused = await client.post(
            "/v1/offers", json=offer_body(), headers={**org.headers, "Idempotency-Key": key}
        )
        assert_problem(refused, 422, "Idempotency-Key", "string_length")
    for key in ("k", "k" * 255):
        taken = await client.post(
            "/v1/offers", json=offer_body(), headers={**org.headers, "Idempotency-Key": key}
        )
        assert taken.status_code == 201, taken.text
    offers = await client.get("/v1/offers", params={"mine": "true"}, headers=org.headers)
    assert len(offers.json()["features"]) == 2


async def test_a_claim_whose_request_died_is_taken_over_once_its_lock_lapsed(
    client: httpx.AsyncClient, app: FastAPI, make_org: OrgFactory
) -> None:
    org = await make_org()
    headers = {**org.headers, "Idempotency-Key": f"crash-{uuid.uuid4()}"}
    first = await client.post("/v1/offers", json=offer_body(), headers=headers)
    assert first.status_code == 201
    # As a process that died mid-request leaves it: claimed, never answered.
    await sql(
        app,
        "UPDATE idempotency_keys SET status_code = NULL, response_headers = NULL, "
        "response_body = NULL, locked_until = now() + interval '1 hour' WHERE key = :key",
        key=headers["Idempotency-Key"],
    )
    in_flight = await client.post("/v1/offers", json=offer_body(), headers=headers)
    assert "still being processed" in assert_problem(in_flight, 409)["detail"]

    await sql(
        app,
        "UPDATE idempotency_keys SET locked_until = now() - interval '1 second' WHERE key = :key",
        key=headers["Idempotency-Key"],
    )
    other_body = await client.post("/v1/offers", json=offer_body(title="Other"), headers=headers)
    assert "another request body" in assert_problem(other_body, 409)["detail"]
    retried = await client.post("/v1/offers", json=offer_body(), headers=headers)
    assert retried.status_code == 201 and "idempotent-replayed" not in retried.headers
    replayed = await client.post("/v1/offers", json=offer_body(), headers=headers)
    assert replayed.headers["idempotent-replayed"] == "true"
    assert replayed.json()["id"] == retried.json()["id"]
    [record] = await records(app, headers["Idempotency-Key"])
    assert record.status_code == 201 and record.locked_until is None


async def test_records_expire_after_the_ttl_and_the_sweep_purges_them(
    client: httpx.AsyncClient, app: FastAPI, make_org: OrgFactory
) -> None:
    org = await make_org()
    kept, expired = f"kept-{uuid.uuid4()}", f"expired-{uuid.uuid4()}"
    for key in (kept, expired):
        response = await client.post(
            "/v1/offers", json=offer_body(), headers={**org.headers, "Idempotency-Key": key}
        )
        assert response.status_code == 201
    [ttl] = await sql(
        app,
        "SELECT expires_at - created_at = make_interval(hours => :hours) FROM idempotency_keys "
        "WHERE key = :key",
        hours=app.state.settings.idempotency_ttl_hours,
        key=kept,
    )
    assert ttl[0] is True
    await sql(
        app,
        "UPDATE idempotency_keys SET expires_at = now() - interval '1 second' WHERE key = :key",
        key=expired,
    )
    async with app.state.sessionmaker.begin() as session:
        assert await purge_expired(session) >= 1
    assert await records(app, expired) == [] and len(await records(app, kept)) == 1

    # The sweep runs on the job queue, every hour.
    assert PURGE_EXPIRED_IDEMPOTENCY_KEYS in create_job_app(app.state.settings).tasks


async def test_an_expired_record_is_not_answered_again(
    client: httpx.AsyncClient, app: FastAPI, make_org: OrgFactory
) -> None:
    org = await make_org()
    headers = {**org.headers, "Idempotency-Key": f"stale-{uuid.uuid4()}"}
    first = await client.post("/v1/offers", json=offer_body(), headers=headers)
    await sql(
        app,
        "UPDATE idempotency_keys SET expires_at = now() - interval '1 second' WHERE key = :key",
        key=headers["Idempotency-Key"],
    )
    # Not purged yet, but past its expiry: a new request with the key runs.
    again = await client.post("/v1/offers", json=offer_body(title="Later"), headers=headers)
    assert again.status_code == 201 and again.json()["id"] != first.json()["id"]


async def test_keys_are_made_listed_used_and_revoked_at_once(
    client: httpx.AsyncClient, app: FastAPI, make_org: OrgFactory
) -> None:
    org = await make_org()
    made = await client.post(
        "/v1/organizations/me/keys", json={"name": "invoicing"}, headers=org.headers
    )
    assert made.status_code == 201 and made.headers["cache-control"] == "no-store"
    second = made.json()
    assert made.headers["location"] == f"/v1/organizations/me/keys/{second['id']}"
    assert second["api_key"].startswith("bk_") and second["api_key"] != org.key
    assert second["prefix"] == second["api_key"][:9] and second["last_used_at"] is None

    listed = await client.get("/v1/organizations/me/keys", headers=org.headers)
    assert listed.status_code == 200
    items = listed.json()["items"]
    assert [k["name"] for k in items] == ["invoicing", None]  # newest first
    assert all("api_key" not in k for k in items)
    assert org.key not in listed.text and second["api_key"] not in listed.text
    assert items[1]["prefix"] == org.key[:9]
    # Used (by the request that listed it), after it was issued.
    assert datetime.fromisoformat(items[1]["last_used_at"]) >= datetime.fromisoformat(
        items[1]["created_at"]
    ), items[1]

    # In use, and its last use written at most once a minute.
    me = await client.get("/v1/organizations/me", headers=bearer(second["api_key"]))
    assert me.json()["id"] == org.id
    used = await client.get(f"/v1/organizations/me/keys/{second['id']}", headers=org.headers)
    assert datetime.fromisoformat(used.json()["last_used_at"]) >= datetime.fromisoformat(
        second["created_at"]
    ), used.json()
    for ago, written in (("30 seconds", False), ("2 minutes", True)):
        await sql(
            app,
            f"UPDATE api_keys SET last_used_at = now() - interval '{ago}' WHERE id = :id",
            id=second["id"],
        )
        # Written by a request that asks the database for the key, as the next one after a
        # reserve does (app.gateway.grants); this one asks now.
        app.state.grants.forget_all()
        [before] = await sql(
            app, "SELECT last_used_at FROM api_keys WHERE id = :id", id=second["id"]
        )
        await client.get("/v1/organizations/me", headers=bearer(second["api_key"]))
        [after] = await sql(
            app, "SELECT last_used_at FROM api_keys WHERE id = :id", id=second["id"]
        )
        assert (after[0] > before[0]) is written

    # Revoked: the next request with it answers 401; revoking it again answers 404.
    path = f"/v1/organizations/me/keys/{second['id']}"
    assert (await client.delete(path, headers=org.headers)).status_code == 204
    assert_problem(await client.get("/v1/organizations/me", headers=bearer(second["api_key"])), 401)
    assert_problem(await client.delete(path, headers=org.headers), 404)
    revoked = (await client.get(path, headers=org.headers)).json()
    # Revoked after its last use.
    assert datetime.fromisoformat(revoked["revoked_at"]) >= datetime.fromisoformat(
        revoked["last_used_at"]
    ), revoked


async def test_an_organization_revokes_only_its_own_keys_and_never_its_last(
    client: httpx.AsyncClient, make_org: OrgFactory
) -> None:
    org, other = await make_org(), await make_org()
    [first] = (await client.get("/v1/organizations/me/keys", headers=org.headers)).json()["items"]

    # Another organization's key is no key of yours.
    theirs = f"/v1/organizations/me/keys/{first['id']}"
    assert_problem(await client.delete(theirs, headers=other.headers), 404)
    assert_problem(await client.get(theirs, headers=other.headers), 404)
    assert (await client.get("/v1/organizations/me", headers=org.headers)).status_code == 200

    # The last active key stays; with another one, the key in use may go.
    last = assert_problem(await client.delete(theirs, headers=org.headers), 409)
    assert "last active API key" in last["detail"]
    assert (await client.get("/v1/organizations/me", headers=org.headers)).status_code == 200
    spare = await new_key(client, org)
    assert (await client.delete(theirs, headers=org.headers)).status_code == 204
    assert_problem(await client.get("/v1/organizations/me", headers=org.headers), 401)
    assert (
        await client.get("/v1/organizations/me", headers=bearer(spare["api_key"]))
    ).status_code == 200


async def test_the_admin_lists_makes_and_revokes_any_organizations_keys(
    client: httpx.AsyncClient, make_org: OrgFactory
) -> None:
    org = await make_org()
    keys = f"/v1/organizations/{org.id}/keys"
    listed = await client.get(keys, headers=ADMIN)
    assert listed.status_code == 200 and len(listed.json()["items"]) == 1
    [only] = listed.json()["items"]

    # Even the last one: a leaked key is cut off at once, and the admin gives a new one.
    assert (await client.delete(f"{keys}/{only['id']}", headers=ADMIN)).status_code == 204
    assert_problem(await client.get("/v1/organizations/me", headers=org.headers), 401)
    assert_problem(await client.delete(f"{keys}/{only['id']}", headers=ADMIN), 404)
    given = await client.post(keys, json={"name": "after the leak"}, headers=ADMIN)
    assert given.status_code == 201
    assert given.headers["location"] == f"{keys}/{given.json()['id']}"
    new = bearer(given.json()["api_key"])
    assert (await client.get("/v1/organizations/me", headers=new)).json()["id"] == org.id

    # Another organization's id with an API key: admin only. The admin token is no API key.
    assert_problem(await client.get(keys, headers=new), 403)
    assert_problem(await client.delete(f"{keys}/{given.json()['id']}", headers=new), 403)
    assert_problem(await client.get("/v1/organizations/me/keys", headers=ADMIN), 401)
    assert_problem(await client.get(f"/v1/organizations/{uuid.uuid4()}/keys", headers=ADMIN), 404)
    assert_problem(
        await client.get("/v1/organizations/someone/keys", headers=ADMIN),
        422,
        "organization",
        "uuid_parsing",
    )


async def test_an_organization_has_a_bounded_number_of_active_keys(
    client: httpx.AsyncClient, app: FastAPI, make_org: OrgFactory
) -> None:
    org = await make_org()
    bound = app.state.settings.max_api_keys_per_organization
    made = [await new_key(client, org) for _ in range(bound - 1)]
    refused = await client.post("/v1/organizations/me/keys", json={}, headers=org.headers)
    assert_problem(refused, 422, "api_keys", "max_keys")
    revoked = await client.delete(f"/v1/organizations/me/keys/{made[0]['id']}", headers=org.headers)
    assert revoked.status_code == 204
    assert (
        await client.post("/v1/organizations/me/keys", json={}, headers=org.headers)
    ).status_code == 201
    assert_problem(
        await client.post("/v1/organizations/me/keys", json={"name": ""}, headers=org.headers),
        422,
        "name",
        "string_too_short",
    )


def _pg(*args: str) -> str:
    return subprocess.run([PG, *args], check=True, capture_output=True, text=True).stdout.strip()


@dataclass
class NewCluster:
    url: URL  # as pg.sh printed it
    folder: Path  # where it lives (its socket too), the link followed


@pytest.fixture
def new_cluster(tmp_path: Path) -> Iterator[NewCluster]:
    """A cluster made by pg.sh for this test, and removed after it."""
    link = tmp_path / "pg"
    try:
        url = make_url(_pg("start", str(link), "--throwaway"))
        yield NewCluster(url, link.resolve())
    finally:
        subprocess.run([PG, "stop", str(link)], check=False)
        remove_cluster(link)


def test_a_new_local_cluster_keeps_its_password_for_its_owner_alone(
    new_cluster: NewCluster,
) -> None:
    url = new_cluster.url
    # The URL pg.sh prints carries no password: its password file does.
    assert url.username == "postgres" and url.password is None and url.host == "127.0.0.1"
    password_file = new_cluster.folder / "password"
    pgpass = new_cluster.folder / "pgpass"
    for secret in (password_file, pgpass):
        assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    password = password_file.read_text().strip()
    assert password and pgpass.read_text() == f"127.0.0.1:*:*:postgres:{password}\n"


async def test_a_new_local_cluster_refuses_connections_without_its_password(
    new_cluster: NewCluster,
) -> None:
    url = new_cluster.url
    where: dict[str, Any] = {"port": url.port, "user": "postgres", "database": "postgres"}
    # No password from the environment nor from a ~/.pgpass: only the one given here.
    nowhere = str(new_cluster.folder / "no-pgpass")
    for host, password in (
        ("127.0.0.1", ""),
        ("127.0.0.1", "not-the-password"),
        (str(new_cluster.folder), ""),  # its socket asks too
    ):
        with pytest.raises(asyncpg.InvalidPasswordError):
            await asyncpg.connect(**where, host=host, password=password, passfile=nowhere)

    # Its password file lets its owner in.
    conn = await asyncpg.connect(
        **where, host="127.0.0.1", passfile=str(new_cluster.folder / "pgpass")
    )
    try:
        assert await conn.fetchval("SELECT current_user") == "postgres"
    finally:
        await conn.close()


def test_a_cluster_made_without_a_password_is_started_with_a_warning(
    new_cluster: NewCluster,
) -> None:
    # As a cluster made before passwords: trust for everyone local, and no password file.
    link = str(new_cluster.folder)
    subprocess.run([PG, "stop", link], check=True, capture_output=True)
    rules = new_cluster.folder / "data" / "pg_hba.conf"
    rules.write_text(rules.read_text().replace("scram-sha-256", "trust"))
    (new_cluster.folder / "password").unlink()
    restarted = subprocess.run(
        [PG, "start", link],
        capture_output=True,
        text=True,
        check=True,
        stdin=subprocess.DEVNULL,
        timeout=120,
    )
    assert "made without a password (trust)" in restarted.stderr
    assert "remove the folder" in restarted.stderr
    assert make_url(restarted.stdout.strip()).password is None
