"""Delivery attempts and their retries: the one place that queues a delivery's job, and the
job itself.

An attempt POSTs the event signed (`deliver`), with no transaction open while it waits for the
receiver, and on failure queues the next attempt after an exponential backoff with jitter, for
24 hours. One attempt is queued at a time for a delivery.

Delivery is at least once: a worker that dies mid-send leaves its job to another, which sends
again. Receivers deduplicate by the event `id`."""

import json
import random
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.jobs.queue import EVENTS_QUEUE, JobKind, defer_in_transaction
from app.models import Webhook, WebhookDelivery, WebhookEvent
from app.settings import Settings
from app.webhooks.delivery import Answer, ExchangeBounds, post
from app.webhooks.signatures import SIGNATURE_HEADER, sign, signing_secrets

DELIVER = JobKind("webhooks:deliver", EVENTS_QUEUE)


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


async def queue_attempt(
    session: AsyncSession, delivery_id: uuid.UUID, scheduled_at: datetime | None = None
) -> None:
    """Queues an attempt of the delivery in the caller's transaction: the one place that
    queues delivery jobs."""
    await defer_in_transaction(session, DELIVER, {"delivery_id": str(delivery_id)}, scheduled_at)


async def _queue_retry(session: AsyncSession, delivery_id: uuid.UUID, at: datetime) -> datetime:
    """Queues the next attempt at `at` unless one is queued already, and answers when the
    next attempt runs. One attempt queued at a time: a job run twice (its worker died after
    recording its attempt) or two runs at once must not fork the retries into two chains."""
    queued: datetime | None = await session.scalar(
        _QUEUED_ATTEMPT, {"task": DELIVER.name, "delivery_id": str(delivery_id)}
    )
    if queued is not None:
        return queued
    await queue_attempt(session, delivery_id, at)
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
        ExchangeBounds(
            deadline_seconds=settings.webhook_timeout_seconds,
            max_response_bytes=settings.webhook_max_response_bytes,
            allowed_hosts=settings.webhook_allowed_hosts,
            private_hosts=settings.webhook_private_hosts,
        ),
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
