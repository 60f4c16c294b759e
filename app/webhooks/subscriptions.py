"""Webhook subscriptions: made for a checked destination (at most so many an organization),
listed, read, their secret rotated, deleted; and the log of their deliveries."""

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.owned import OwnedRows
from app.kit.pagination import PageParams, keyset_page, newest_first
from app.kit.principal import Principal
from app.kit.problems import FieldError, ValidationFailed
from app.models import Webhook, WebhookDelivery, WebhookEvent
from app.settings import Settings
from app.webhooks.addresses import destination_problems
from app.webhooks.schemas import SecretRotation, WebhookCreate

WEBHOOKS = OwnedRows(Webhook, "webhook")


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
    return await WEBHOOKS.page(session, principal, page)


async def get_webhook(
    session: AsyncSession, principal: Principal, webhook_id: uuid.UUID
) -> Webhook:
    return await WEBHOOKS.readable(session, principal, webhook_id)


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
    webhook = await WEBHOOKS.writable(session, principal, webhook_id)
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
