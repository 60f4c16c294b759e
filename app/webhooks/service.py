"""Webhook subscriptions, the outbox and signed delivery.

An event is written in the transaction of the change that causes it (`emit`), with one
delivery row and one queued job per subscription, so that it is delivered if and only if the
change is committed, whatever happens to the API or the worker in between. The worker POSTs it
signed, and on failure queues the next attempt after an exponential backoff for 24 hours."""

import asyncio
import hashlib
import hmac
import ipaddress
import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import Principal
from app.errors import ValidationFailed
from app.jobs import defer_in_transaction
from app.kit.ownership import list_own, load_readable
from app.kit.pagination import PageParams
from app.models import Webhook, WebhookDelivery, WebhookEvent
from app.settings import Settings
from app.webhooks.schemas import WebhookCreate

DELIVER = "webhooks:deliver"
SIGNATURE_HEADER = "Boucle-Signature"


def sign(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


async def _public_address_problem(url: str) -> str | None:
    """Why `url` may not be called (it resolves to a loopback, private, link-local or otherwise
    non-public address), or None."""
    host = urlsplit(url).hostname or ""
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, None)
    except OSError:
        return f"{host} does not resolve"
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if not address.is_global:
            return f"{host} resolves to {address}, which is not a public address"
    return None


async def create_webhook(
    session: AsyncSession, settings: Settings, principal: Principal, data: WebhookCreate
) -> Webhook:
    url = str(data.url)
    if not settings.webhooks_allow_private_urls and (problem := await _public_address_problem(url)):
        raise ValidationFailed.field(
            "url", "public_address", f"Webhooks go to public addresses only: {problem}."
        )
    webhook = Webhook(
        id=uuid.uuid4(),
        organization_id=principal.organization_id,
        url=url,
        events=sorted({e.value for e in data.events}),
        secret=data.secret,
    )
    session.add(webhook)
    await session.commit()
    return webhook


async def list_webhooks(session: AsyncSession, principal: Principal) -> list[Webhook]:
    return await list_own(session, Webhook, principal)


async def _own_webhook(
    session: AsyncSession, principal: Principal, webhook_id: uuid.UUID
) -> Webhook:
    return await load_readable(
        session, Webhook, webhook_id, principal, public=False, noun="webhook"
    )


async def delete_webhook(
    session: AsyncSession, principal: Principal, webhook_id: uuid.UUID
) -> None:
    await session.delete(await _own_webhook(session, principal, webhook_id))
    await session.commit()


async def list_deliveries(
    session: AsyncSession, principal: Principal, webhook_id: uuid.UUID, page: PageParams
) -> list[tuple[WebhookDelivery, str]]:
    await _own_webhook(session, principal, webhook_id)
    query = (
        select(WebhookDelivery, WebhookEvent.type)
        .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
        .where(WebhookDelivery.webhook_id == webhook_id)
        .order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id.desc())
        .limit(page.limit)
    )
    if page.after:
        query = query.where(WebhookDelivery.created_at < datetime.fromisoformat(str(page.after[0])))
    return [(row[0], row[1]) for row in (await session.execute(query)).all()]


async def emit(
    session: AsyncSession, organization_ids: set[uuid.UUID], event_type: str, data: dict[str, Any]
) -> None:
    """Writes the event for each organization and queues a delivery to each of their
    subscriptions to it, in the caller's transaction (the caller commits)."""
    subscriptions = (
        await session.scalars(
            select(Webhook).where(
                Webhook.organization_id.in_(organization_ids), Webhook.events.contains([event_type])
            )
        )
    ).all()
    events: dict[uuid.UUID, WebhookEvent] = {}
    for webhook in subscriptions:
        if webhook.organization_id not in events:
            event = WebhookEvent(
                id=uuid.uuid4(), organization_id=webhook.organization_id, type=event_type, data=data
            )
            session.add(event)
            await session.flush()
            events[webhook.organization_id] = event
        delivery = WebhookDelivery(
            id=uuid.uuid4(), webhook_id=webhook.id, event_id=events[webhook.organization_id].id
        )
        session.add(delivery)
        await session.flush()
        await defer_in_transaction(session, DELIVER, {"delivery_id": str(delivery.id)})


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


async def deliver(session: AsyncSession, settings: Settings, delivery_id: uuid.UUID) -> None:
    """One attempt at one delivery; a failure queues the next attempt."""
    delivery = await session.get(WebhookDelivery, delivery_id, with_for_update=True)
    if delivery is None or delivery.status != "pending":
        return
    webhook = await session.get_one(Webhook, delivery.webhook_id)
    event = await session.get_one(WebhookEvent, delivery.event_id)
    body = event_body(event)
    started = time.monotonic()
    attempt: dict[str, Any] = {"at": datetime.now(UTC).isoformat()}
    problem = (
        None if settings.webhooks_allow_private_urls else await _public_address_problem(webhook.url)
    )
    if problem:
        attempt["error"] = problem
    else:
        try:
            async with httpx.AsyncClient(timeout=settings.webhook_timeout_seconds) as client:
                response = await client.post(
                    webhook.url,
                    content=body,
                    headers={
                        "Content-Type": "application/json",
                        SIGNATURE_HEADER: sign(webhook.secret, int(time.time()), body),
                        "Boucle-Event": event.type,
                        "Boucle-Delivery": str(delivery.id),
                    },
                )
            attempt["status_code"] = response.status_code
        except httpx.HTTPError as exc:
            attempt["error"] = f"{type(exc).__name__}: {exc}"[:300]
    attempt["duration_ms"] = round((time.monotonic() - started) * 1000)
    delivery.attempts += 1
    delivery.log = [*delivery.log, attempt]
    now = datetime.now(UTC)
    if 200 <= attempt.get("status_code", 0) < 300:
        delivery.status, delivery.delivered_at = "delivered", now
    elif now - delivery.created_at >= timedelta(hours=settings.webhook_retry_window_hours):
        delivery.status = "failed"
    else:
        wait = settings.webhook_retry_base_seconds * 2 ** (delivery.attempts - 1)
        await defer_in_transaction(
            session, DELIVER, {"delivery_id": str(delivery.id)}, now + timedelta(seconds=wait)
        )
    await session.commit()
