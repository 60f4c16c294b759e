"""The outbox: an event is written in the transaction of the change that causes it (`emit`),
with one delivery row and one queued attempt per subscription, so that it is delivered if and
only if the change is committed, whatever happens to the API or the worker in between.

An event's id is derived from the fact it reports (`event_id`), and the outbox takes an event
once: a job that runs again after its worker died (its first run committed, its end was never
recorded) queues nothing new for the events it wrote already."""

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Webhook, WebhookDelivery, WebhookEvent
from app.webhooks.attempts import queue_attempt

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
        await queue_attempt(session, delivery.id)
