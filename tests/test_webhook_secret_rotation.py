"""A webhook's secret rotates: for a grace period the secret replaced signs each delivery beside
the new one (two `v1` in `Boucle-Signature`), then the new one signs alone. A real receiver on
127.0.0.1 checks the signatures of the raw bodies it received; a real worker delivers."""

import hashlib
import hmac
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import text

from app.settings import PROJECT_ROOT
from app.webhooks.outbox import emit
from tests.conftest import (
    SECRET,
    Org,
    OrgFactory,
    Receiver,
    WorkerRun,
    assert_problem,
    signature_is_valid,
    signature_parts,
    subscribe,
)
from tests.overlap import overlapping

NEW = "the-new-secret-of-this-receiver"
NEWER = "and-the-one-after-that-secret"


def _readme_verifier() -> Callable[[str, bytes, str], bool]:
    """The `verified(header, body, secret)` the README gives receivers, as written there."""
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    blocks = [block.split("```")[0] for block in readme.split("```python\n")[1:]]
    [code] = [block for block in blocks if "def verified(" in block]
    namespace: dict[str, Any] = {}
    exec(code, namespace)
    verified: Callable[[str, bytes, str], bool] = namespace["verified"]
    return verified


def _hmac(secret: str, record: dict[str, Any]) -> str:
    timestamp, _ = signature_parts(record)
    signed = f"{timestamp}.".encode() + record["body"]
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


async def _delivered(app: FastAPI, run_worker: WorkerRun, org: Org, receiver: Receiver) -> Any:
    """Emits an event to the organization, lets the worker deliver it, and answers what the
    receiver got."""
    before = len(receiver.received)
    async with app.state.sessionmaker.begin() as session:
        await emit(
            session,
            {uuid.UUID(org.id)},
            "match.accepted",
            {"match": {"id": "m-1"}},
            fact=[uuid.uuid4()],
        )
    await run_worker()
    assert len(receiver.received) == before + 1
    return receiver.received[-1]


async def _rotate(
    client: httpx.AsyncClient, org: Org, webhook_id: str, **body: Any
) -> httpx.Response:
    return await client.post(f"/v1/webhooks/{webhook_id}/secret", json=body, headers=org.headers)


async def _end_grace_period(app: FastAPI, webhook_id: str) -> None:
    """Moves the end of the grace period a second into the past, as time would."""
    async with app.state.sessionmaker.begin() as session:
        await session.execute(
            text(
                "UPDATE webhooks SET previous_secret_until = now() - interval '1 second' "
                "WHERE id = :id"
            ),
            {"id": webhook_id},
        )


async def test_both_secrets_sign_during_the_grace_period_then_the_new_one_alone(
    app: FastAPI,
    client: httpx.AsyncClient,
    run_worker: WorkerRun,
    make_org: OrgFactory,
    receiver: Receiver,
) -> None:
    org = await make_org()
    webhook_id = await subscribe(client, org, receiver.url, ["match.accepted"])
    first = await _delivered(app, run_worker, org, receiver)
    assert signature_parts(first)[1] == [_hmac(SECRET, first)]

    rotated = await _rotate(client, org, webhook_id, secret=NEW)
    assert rotated.status_code == 200, rotated.text
    assert "secret" not in rotated.json()
    expires = datetime.fromisoformat(rotated.json()["previous_secret_expires_at"])
    assert timedelta(hours=23) < expires - datetime.now(UTC) <= timedelta(hours=24)
    read = (await client.get(f"/v1/webhooks/{webhook_id}", headers=org.headers)).json()
    assert "secret" not in read
    assert read["previous_secret_expires_at"] == rotated.json()["previous_secret_expires_at"]

    # During the grace period: the new secret's signature, then the old one's, over the body.
    during = await _delivered(app, run_worker, org, receiver)
    assert signature_parts(during)[1] == [_hmac(NEW, during), _hmac(SECRET, during)]
    # The README's check accepts it with either secret.
    verified = _readme_verifier()
    header = during["headers"]["Boucle-Signature"]
    assert verified(header, during["body"], NEW) and verified(header, during["body"], SECRET)
    assert not verified(header, during["body"], NEWER)

    # The grace period ends: the new secret signs alone.
    await _end_grace_period(app, webhook_id)
    after = await _delivered(app, run_worker, org, receiver)
    assert signature_parts(after)[1] == [_hmac(NEW, after)]
    header = after["headers"]["Boucle-Signature"]
    assert verified(header, after["body"], NEW) and not verified(header, after["body"], SECRET)
    read = (await client.get(f"/v1/webhooks/{webhook_id}", headers=org.headers)).json()
    assert read["previous_secret_expires_at"] is None


async def test_a_grace_period_can_be_shorter_or_ended(
    app: FastAPI,
    client: httpx.AsyncClient,
    run_worker: WorkerRun,
    make_org: OrgFactory,
    receiver: Receiver,
) -> None:
    org = await make_org()
    webhook_id = await subscribe(client, org, receiver.url, ["match.accepted"])

    # At most the server's grace period; never negative.
    too_long = await _rotate(client, org, webhook_id, secret=NEW, grace_seconds=86401)
    assert_problem(too_long, 422, "grace_seconds", "less_than_equal")
    negative = await _rotate(client, org, webhook_id, secret=NEW, grace_seconds=-1)
    assert_problem(negative, 422, "grace_seconds", "greater_than_equal")
    short = await _rotate(client, org, webhook_id, secret="short")
    assert_problem(short, 422, "secret", "string_too_short")
    unrotated = await _delivered(app, run_worker, org, receiver)
    assert signature_parts(unrotated)[1] == [_hmac(SECRET, unrotated)]

    hour = await _rotate(client, org, webhook_id, secret=NEW, grace_seconds=3600)
    expires = datetime.fromisoformat(hour.json()["previous_secret_expires_at"])
    assert timedelta(minutes=59) < expires - datetime.now(UTC) <= timedelta(hours=1)
    # The same secret again (a retry) rotates nothing...
    again = await _rotate(client, org, webhook_id, secret=NEW)
    assert again.json() == hour.json()
    during = await _delivered(app, run_worker, org, receiver)
    assert signature_parts(during)[1] == [_hmac(NEW, during), _hmac(SECRET, during)]
    # ...and with a grace of 0, it ends the old secret's at once.
    ended = await _rotate(client, org, webhook_id, secret=NEW, grace_seconds=0)
    assert ended.status_code == 200 and ended.json()["previous_secret_expires_at"] is None
    after = await _delivered(app, run_worker, org, receiver)
    assert signature_parts(after)[1] == [_hmac(NEW, after)]

    # A rotation with no grace at all: the newer secret signs alone from the next delivery.
    await _rotate(client, org, webhook_id, secret=NEWER, grace_seconds=0)
    alone = await _delivered(app, run_worker, org, receiver)
    assert signature_parts(alone)[1] == [_hmac(NEWER, alone)]


async def test_two_secrets_sign_at_most(
    app: FastAPI,
    client: httpx.AsyncClient,
    run_worker: WorkerRun,
    make_org: OrgFactory,
    receiver: Receiver,
) -> None:
    org = await make_org()
    webhook_id = await subscribe(client, org, receiver.url, ["match.accepted"])
    for secret in (NEW, NEWER):
        assert (await _rotate(client, org, webhook_id, secret=secret)).status_code == 200

    record = await _delivered(app, run_worker, org, receiver)
    assert signature_parts(record)[1] == [_hmac(NEWER, record), _hmac(NEW, record)]
    assert not signature_is_valid(record, SECRET)


async def test_rotations_at_once_lose_no_secret(
    app: FastAPI,
    client: httpx.AsyncClient,
    run_worker: WorkerRun,
    make_org: OrgFactory,
    receiver: Receiver,
    database_url: str,
) -> None:
    """Two rotations at the same moment happen one after the other: the secret that signs
    beside the last one is the other new one, not the secret both replaced."""
    org = await make_org()
    webhook_id = await subscribe(client, org, receiver.url, ["match.accepted"])
    # The row is held while both rotations start, so that they meet.
    answers = await overlapping(
        database_url,
        "SELECT 1 FROM webhooks WHERE id = $1 FOR UPDATE",
        uuid.UUID(webhook_id),
        requests=[_rotate(client, org, webhook_id, secret=secret) for secret in (NEW, NEWER)],
    )
    assert [a.status_code for a in answers] == [200, 200]

    record = await _delivered(app, run_worker, org, receiver)
    assert sorted(signature_parts(record)[1]) == sorted([_hmac(NEW, record), _hmac(NEWER, record)])


async def test_only_the_owner_rotates_a_secret(
    app: FastAPI,
    client: httpx.AsyncClient,
    run_worker: WorkerRun,
    make_org: OrgFactory,
    receiver: Receiver,
) -> None:
    org, other = await make_org(), await make_org()
    webhook_id = await subscribe(client, org, receiver.url, ["match.accepted"])

    assert_problem(await _rotate(client, other, webhook_id, secret=NEW), 404)
    assert_problem(await _rotate(client, org, str(uuid.uuid4()), secret=NEW), 404)
    anonymous = await client.post(f"/v1/webhooks/{webhook_id}/secret", json={"secret": NEW})
    assert_problem(anonymous, 401)

    read = (await client.get(f"/v1/webhooks/{webhook_id}", headers=org.headers)).json()
    assert read["previous_secret_expires_at"] is None
    record = await _delivered(app, run_worker, org, receiver)
    assert signature_parts(record)[1] == [_hmac(SECRET, record)]
