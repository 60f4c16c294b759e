"""Webhook subscriptions, the outbox and signed delivery.

An event is written in the transaction of the change that causes it (`emit`), with one
delivery row and one queued job per subscription, so that it is delivered if and only if the
change is committed, whatever happens to the API or the worker in between. The worker POSTs it
signed (`deliver`), with no transaction open while it waits for the receiver, and on failure
queues the next attempt after an exponential backoff with jitter, for 24 hours.

An event's id is derived from the fact it reports (`event_id`), and the outbox takes an event
once: a job that runs again after its worker died (its first run committed, its end was never
recorded) queues nothing new for the events it wrote already.

Delivery is at least once: a worker that dies mid-send leaves its job to another, which sends
again. Receivers deduplicate by the event `id`."""

import json
import random
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.jobs.queue import EVENTS_QUEUE, JobKind, defer_in_transaction
from app.kit.ownership import load_readable
from app.kit.pagination import PageParams, keyset_page, newest_first, oldest_first
from app.kit.principal import Principal
from app.kit.problems import FieldError, NotFound, ValidationFailed
from app.models import Webhook, WebhookDelivery, WebhookEvent
from app.settings import Settings
from app.webhooks.addresses import destination_problems
from app.webhooks.delivery import Answer, post
from app.webhooks.schemas import SecretRotation, WebhookCreate
from app.webhooks.signatures import SIGNATURE_HEADER, sign, signing_secrets

DELIVER = JobKind("webhooks:deliver", EVENTS_QUEUE)
REQUEUE_ORPHANED_DELIVERIES = "webhooks:requeue_orphaned_deliveries"


# Serialises the creations of one organization's subscriptions, so that concurrent creates
# cannot all count the same number below the cap. Held until the creating transaction ends.
_LOCK_SUBSCRIPTIONS = text(
    "SELECT pg_advisory_xact_lock(hashtext('webhooks:' || CAST(:organization_id AS text)))"
)


async def create_webhook(
    session: AsyncSession, settings: Settings, principal: Principal, data: WebhookCreate
) -> Webhook:
    url = str(data.url)
    if problems := await destination_problems(
        url,
        allowed_hosts=settings.webhook_allowed_hosts,
        private_hosts=settings.webhook_private_hosts,
    ):
        raise ValidationFailed([FieldError("url", rule, sentence) for rule, sentence in problems])
    # The name is resolved above, before the lock: the lock is held for two short queries only.
    await session.execute(_LOCK_SUBSCRIPTIONS, {"organization_id": str(principal.organization_id)})
    subscriptions = await session.scalar(
        select(func.count())
        .select_from(Webhook)
        .where(Webhook.organization_id == principal.organization_id)
    )
    if (subscriptions or 0) >= settings.webhook_max_subscriptions:
        raise ValidationFailed.field(
            "url",
            "max_subscriptions",
            f"An organization has at most {settings.webhook_max_subscriptions} subscriptions "
            "and yours has them all: delete one (DELETE /v1/webhooks/{id}) before adding this URL.",
        )
    webhook = Webhook(
        id=uuid.uuid4(),
        organization_id=principal.organization_id,
        url=url,
        events=sorted({e.value for e in data.events}),
        secret=data.secret,
    )
    session.add(webhook)
    await session.flush()
    return webhook


async def list_webhooks(
    session: AsyncSession, principal: Principal, page: PageParams
) -> list[Webhook]:
    """The organization's subscriptions, oldest first."""
    query = select(Webhook).where(Webhook.organization_id == principal.organization_id)
    return list((await session.scalars(keyset_page(query, oldest_first(Webhook), page))).all())


async def get_webhook(
    session: AsyncSession, principal: Principal, webhook_id: uuid.UUID
) -> Webhook:
    return await load_readable(
        session, Webhook, webhook_id, principal, public=False, noun="webhook"
    )


async def rotate_secret(
    session: AsyncSession,
    settings: Settings,
    principal: Principal,
    webhook_id: uuid.UUID,
    data: SecretRotation,
) -> Webhook:
    """Makes `data.secret` the subscription's secret; the one it replaces goes on signing
    beside it for the grace period. The same secret again rotates nothing (a retry is
    harmless), but a `grace_seconds` sent with it shortens the replaced secret's grace."""
    longest = settings.webhook_secret_grace_hours * 3600
    grace = longest if data.grace_seconds is None else data.grace_seconds
    if grace > longest:
        raise ValidationFailed.field(
            "grace_seconds",
            "less_than_equal",
            f"The secret replaced signs beside the new one for at most {longest:g} s "
            "(the grace period of this service).",
        )
    # Locked, so that two rotations at once happen one after the other: each new secret's
    # predecessor is the secret the other one made current, and none is lost.
    webhook = await session.get(Webhook, webhook_id, with_for_update=True)
    if webhook is None or webhook.organization_id != principal.organization_id:
        raise NotFound(f"No webhook {webhook_id}.")
    now = datetime.now(UTC)
    if data.secret != webhook.secret:
        webhook.previous_secret = webhook.secret
        webhook.previous_secret_until = now + timedelta(seconds=grace)
        webhook.secret = data.secret
    elif data.grace_seconds is not None and webhook.previous_secret_until is not None:
        # The current secret again, with a grace: the replaced one's can only end sooner.
        webhook.previous_secret_until = min(
            webhook.previous_secret_until, now + timedelta(seconds=grace)
        )
    if webhook.previous_secret_until is not None and webhook.previous_secret_until <= now:
        # Its grace is over: the secret replaced is kept no longer.
        webhook.previous_secret = webhook.previous_secret_until = None
    await session.flush()
    return webhook


async def delete_webhook(
    session: AsyncSession, principal: Principal, webhook_id: uuid.UUID
) -> None:
    await session.delete(await get_webhook(session, principal, webhook_id))
    await session.flush()


async def list_deliveries(
    session: AsyncSession, principal: Principal, webhook_id: uuid.UUID, page: PageParams
) -> list[tuple[WebhookDelivery, str]]:
    """The subscription's deliveries, newest first, each with its event's type."""
    await get_webhook(session, principal, webhook_id)
    query = (
        select(WebhookDelivery, WebhookEvent.type)
        .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
        .where(WebhookDelivery.webhook_id == webhook_id)
    )
    query = keyset_page(query, newest_first(WebhookDelivery), page)
    return [(row[0], row[1]) for row in (await session.execute(query)).all()]


# The namespace of the events' ids (UUIDv5), fixed once and for all: changing it would give
# the facts already announced new ids.
_EVENT_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://boucle.brussels/webhook-events")


def event_id(event_type: str, organization_id: uuid.UUID, fact: Sequence[object]) -> uuid.UUID:
    """The id of the event telling `organization_id` of `fact`: the ids (and, for a fact that
    can happen again, the moment) that make it, the same each time the fact is reported."""
    name = "/".join([event_type, str(organization_id), *(str(part) for part in fact)])
    return uuid.uuid5(_EVENT_NAMESPACE, name)


async def emit(
    session: AsyncSession,
    organization_ids: set[uuid.UUID],
    event_type: str,
    data: dict[str, Any],
    *,
    fact: Sequence[object],
) -> None:
    """Writes the event for each organization and queues a delivery to each of their
    subscriptions to it, in the caller's transaction (the caller commits).

    `fact` names what happened (an offer and a request for a candidate, a match for a match's
    step...): an event already in the outbox is not written or queued again, so the same fact
    reported twice (a job run again) is delivered once, under one id."""
    # The events are written in one order (by organization), so that two transactions telling
    # the same organizations of the same fact wait for each other rather than deadlock.
    subscriptions = (
        await session.scalars(
            select(Webhook)
            .where(
                Webhook.organization_id.in_(organization_ids), Webhook.events.contains([event_type])
            )
            .order_by(Webhook.organization_id, Webhook.id)
        )
    ).all()
    new_events: dict[uuid.UUID, uuid.UUID | None] = {}
    for webhook in subscriptions:
        organization_id = webhook.organization_id
        if organization_id not in new_events:
            # A concurrent writer of the same event makes this wait for its commit.
            new_events[organization_id] = await session.scalar(
                insert(WebhookEvent)
                .values(
                    id=event_id(event_type, organization_id, fact),
                    organization_id=organization_id,
                    type=event_type,
                    data=data,
                )
                .on_conflict_do_nothing(index_elements=[WebhookEvent.id])
                .returning(WebhookEvent.id)
            )
        written = new_events[organization_id]
        if written is None:
            continue
        delivery = WebhookDelivery(id=uuid.uuid4(), webhook_id=webhook.id, event_id=written)
        session.add(delivery)
        await session.flush()
        await _queue_attempt(session, delivery.id)


def event_body(event: WebhookEvent) -> bytes:
    return json.dumps(
        {
            "id": str(event.id),
            "type": event.type,
            "created_at": event.created_at.isoformat(),
            "data": event.data,
        },
        separators=(",", ":"),
    ).encode()


@dataclass(frozen=True)
class _Outgoing:
    """What one attempt sends, read before the exchange."""

    url: str
    secrets: tuple[str, ...]
    event_type: str
    body: bytes


async def _outgoing(
    sessionmaker: async_sessionmaker[AsyncSession], delivery_id: uuid.UUID
) -> _Outgoing | None:
    """The request for a pending delivery, or None when there is nothing to send (delivered,
    failed, or its subscription deleted)."""
    async with sessionmaker.begin() as session:
        delivery = await session.get(WebhookDelivery, delivery_id)
        if delivery is None or delivery.status != "pending":
            return None
        webhook = await session.get_one(Webhook, delivery.webhook_id)
        event = await session.get_one(WebhookEvent, delivery.event_id)
        secrets = signing_secrets(webhook, datetime.now(UTC))
        return _Outgoing(webhook.url, secrets, event.type, event_body(event))


def _backoff(settings: Settings, attempts: int) -> timedelta:
    """How long to wait after the `attempts`-th failure: base x 2^(attempts - 1), of which a
    random half (equal jitter), so that the receivers that failed together, after an outage
    say, are not all tried again at the same second. A base of 0 tries again at once."""
    ceiling = settings.webhook_retry_base_seconds * 2 ** min(attempts - 1, 30)
    return timedelta(seconds=ceiling / 2 + random.uniform(0, ceiling / 2))


# When the queued attempt of a delivery that has not started yet runs, if there is one.
_QUEUED_ATTEMPT = text(
    """
    SELECT coalesce(scheduled_at, now()) FROM procrastinate_jobs
    WHERE task_name = :task AND status = 'todo' AND args->>'delivery_id' = :delivery_id
    ORDER BY scheduled_at NULLS FIRST
    LIMIT 1
    """
)


async def _queue_attempt(
    session: AsyncSession, delivery_id: uuid.UUID, scheduled_at: datetime | None = None
) -> None:
    """Queues an attempt of the delivery in the caller's transaction: the one place that
    queues delivery jobs."""
    await defer_in_transaction(session, DELIVER, {"delivery_id": str(delivery_id)}, scheduled_at)


# Pending deliveries that no job will attempt: their job ran out of retries (the database was
# away each time), or was lost some other way.
_ORPHANED = text(
    """
    SELECT d.id FROM webhook_deliveries d
    WHERE d.status = 'pending' AND NOT EXISTS (
        SELECT 1 FROM procrastinate_jobs j
        WHERE j.task_name = :task AND j.status IN ('todo', 'doing')
          AND j.args->>'delivery_id' = d.id::text)
    """
)


async def requeue_orphaned_deliveries(session: AsyncSession) -> int:
    """Gives every pending delivery a queued attempt again (the periodic sweep): a pending
    delivery is always owned by a job. Answers how many it queued."""
    orphans = list((await session.scalars(_ORPHANED, {"task": DELIVER.name})).all())
    for delivery_id in orphans:
        await _queue_attempt(session, delivery_id)
    await session.flush()
    return len(orphans)


async def _queue_retry(session: AsyncSession, delivery_id: uuid.UUID, at: datetime) -> datetime:
    """Queues the next attempt at `at` unless one is queued already, and answers when the
    next attempt runs. One attempt queued at a time: a job run twice (its worker died after
    recording its attempt) or two runs at once must not fork the retries into two chains."""
    queued: datetime | None = await session.scalar(
        _QUEUED_ATTEMPT, {"task": DELIVER.name, "delivery_id": str(delivery_id)}
    )
    if queued is not None:
        return queued
    await _queue_attempt(session, delivery_id, at)
    return at


async def deliver(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, delivery_id: uuid.UUID
) -> None:
    """One attempt at one delivery; a failure queues the next attempt.

    Three steps, and no transaction or row lock is held while the receiver is waited for:
    read what to send, send it (within `webhook_timeout_seconds` in all), then lock the row
    and record the attempt. Safe to run again for the same delivery: a delivery no longer
    pending is not sent, and an attempt that finishes after another delivered it changes
    nothing."""
    outgoing = await _outgoing(sessionmaker, delivery_id)
    if outgoing is None:
        return
    attempted_at = datetime.now(UTC)
    answer = await post(
        outgoing.url,
        outgoing.body,
        {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(outgoing.secrets, int(time.time()), outgoing.body),
            "Boucle-Event": outgoing.event_type,
            "Boucle-Delivery": str(delivery_id),
        },
        deadline_seconds=settings.webhook_timeout_seconds,
        max_response_bytes=settings.webhook_max_response_bytes,
        allowed_hosts=settings.webhook_allowed_hosts,
        private_hosts=settings.webhook_private_hosts,
    )
    async with sessionmaker.begin() as session:
        delivery = await session.get(WebhookDelivery, delivery_id, with_for_update=True)
        if delivery is None or delivery.status != "pending":
            return
        delivery.attempts += 1
        attempt = _attempt_entry(attempted_at, answer)
        now = datetime.now(UTC)
        window_end = delivery.created_at + timedelta(hours=settings.webhook_retry_window_hours)
        if answer.accepted:
            delivery.status, delivery.delivered_at = "delivered", now
        elif answer.not_allowed:
            delivery.status = "failed"
            attempt["reason"] = (
                "the host is not on the allow-list of webhook hosts: nothing was sent, and the "
                "delivery is not tried again"
            )
        elif answer.refused:
            delivery.status = "failed"
            attempt["reason"] = (
                f"the receiver answered {answer.status_code}: a 4xx answer other than 408 "
                "and 429 refuses the event, which is not tried again"
            )
        elif now >= window_end:
            delivery.status = "failed"
            attempt["reason"] = (
                f"no 2xx answer within {settings.webhook_retry_window_hours:g} hours of retries"
            )
        else:
            # The last attempt falls at the end of the window, not after it.
            retry_at = min(now + _backoff(settings, delivery.attempts), window_end)
            attempt["retry_at"] = (await _queue_retry(session, delivery.id, retry_at)).isoformat()
        delivery.log = [*delivery.log, attempt]


def _attempt_entry(attempted_at: datetime, answer: Answer) -> dict[str, Any]:
    """One attempt as the delivery log shows it."""
    entry: dict[str, Any] = {"at": attempted_at.isoformat()}
    if answer.status_code is not None:
        entry["status_code"] = answer.status_code
    if answer.response_bytes is not None:
        entry["response_bytes"] = answer.response_bytes
    if answer.error is not None:
        entry["error"] = answer.error
    if answer.excerpt is not None:
        entry["response_excerpt"] = answer.excerpt
    entry["duration_ms"] = answer.duration_ms
    return entry
