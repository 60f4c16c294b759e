import uuid

from fastapi import APIRouter, Request, Response, status

from app.auth import CurrentPrincipal
from app.gateway.idempotency import IdempotencyKey
from app.kit.pagination import Page, creation_key, page_links
from app.kit.problem_docs import AUTHENTICATED, WRITE, problems
from app.kit.request_session import Session
from app.settings import AppSettings
from app.webhooks import subscriptions
from app.webhooks.schemas import (
    DeliveryPage,
    SecretRotation,
    Webhook,
    WebhookCreate,
    WebhookPage,
    delivery_view,
    webhook_view,
)

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])

_NOT_YOURS = "No subscription of yours has this id (another organization's answers so too)"


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    dependencies=[IdempotencyKey],
    summary="Subscribe a URL to events of your organization",
    description="Deliveries are POSTs of `{id, type, created_at, data}` with the headers "
    "`Boucle-Event`, `Boucle-Delivery` and `Boucle-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "
    '"<t>.<body>">` (one `v1` per secret that signs: two for a while after a rotation), '
    "delivered at least once: deduplicate by the event `id`. An attempt has "
    "10 s (by default) from connecting to the last byte, and at most 64 KiB of the answer are "
    "read. A 2xx answer delivers; a 4xx other than 408 and 429 fails the delivery at once; "
    "anything else is tried again with exponential backoff and jitter for 24 hours. URLs that "
    "resolve to non-public addresses are refused (but for the private destinations the "
    "operator allows), and a delivery connects to the address that was checked. An "
    "organization has at most 20 subscriptions by default: one more answers "
    "422 with the rule `max_subscriptions` on `url`. Answers 201 with the subscription and "
    "its `Location`; the secret is never shown again.",
    responses=problems(*AUTHENTICATED, *WRITE),
)
async def create_webhook(
    data: WebhookCreate,
    principal: CurrentPrincipal,
    session: Session,
    settings: AppSettings,
    response: Response,
) -> Webhook:
    row = await subscriptions.create_webhook(session, settings, principal, data)
    response.headers["Location"] = f"/v1/webhooks/{row.id}"
    return webhook_view(row)


@router.get(
    "",
    summary="Your subscriptions, oldest first",
    description="Your organization's subscriptions, oldest first, a page at a time: follow "
    "the `next` link while there is one. Secrets are never shown.",
    responses=problems(*AUTHENTICATED, 422),
)
async def list_webhooks(
    request: Request, principal: CurrentPrincipal, session: Session, page: Page
) -> WebhookPage:
    rows = await subscriptions.list_webhooks(session, principal, page)
    return WebhookPage(
        items=[webhook_view(w) for w in rows], links=page_links(request, page, rows, creation_key)
    )


@router.get(
    "/{webhook_id}",
    summary="One of your subscriptions",
    description="The subscription's URL and events, as the list shows them (never its "
    "secret). Another organization's subscription answers 404, as a missing one does.",
    responses=problems(*AUTHENTICATED, 404, 422, says={404: _NOT_YOURS}),
)
async def read_webhook(
    webhook_id: uuid.UUID, principal: CurrentPrincipal, session: Session
) -> Webhook:
    return webhook_view(await subscriptions.get_webhook(session, principal, webhook_id))


@router.post(
    "/{webhook_id}/secret",
    dependencies=[IdempotencyKey],
    summary="Rotate the secret that signs deliveries",
    description="Makes `secret` the one that signs deliveries. The secret it replaces goes "
    "on signing each delivery beside it, as a second `v1` of `Boucle-Signature`, for a grace "
    "period (24 hours by default, or `grace_seconds`, 0 to end it at once), so that your "
    "receiver can take the new secret meanwhile; then the new one signs alone. A rotation "
    "during the grace period drops the oldest secret: two sign at most. The same secret "
    "again changes nothing, but with `grace_seconds` it shortens the grace period of the "
    "secret replaced. Answers 200 with the subscription (never a secret). Another "
    "organization's subscription answers 404.",
    responses=problems(*AUTHENTICATED, *WRITE, 404, says={404: _NOT_YOURS}),
)
async def rotate_secret(
    webhook_id: uuid.UUID,
    data: SecretRotation,
    principal: CurrentPrincipal,
    session: Session,
    settings: AppSettings,
) -> Webhook:
    return webhook_view(
        await subscriptions.rotate_secret(session, settings, principal, webhook_id, data)
    )


@router.delete(
    "/{webhook_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Unsubscribe",
    description="Deletes the subscription and its delivery log: 204. Deliveries still pending "
    "are not sent. Another organization's subscription answers 404.",
    responses=problems(*AUTHENTICATED, 404, 422, says={404: _NOT_YOURS}),
)
async def delete_webhook(
    webhook_id: uuid.UUID, principal: CurrentPrincipal, session: Session
) -> None:
    await subscriptions.delete_webhook(session, principal, webhook_id)


@router.get(
    "/{webhook_id}/deliveries",
    summary="The delivery log of a subscription, newest first",
    description="Each delivery of an event to this subscription, newest first, with its "
    "status and every attempt (the receiver's status, the error, when the next attempt runs), "
    "a page at a time. Another organization's subscription answers 404.",
    responses=problems(*AUTHENTICATED, 404, 422, says={404: _NOT_YOURS}),
)
async def list_deliveries(
    webhook_id: uuid.UUID,
    request: Request,
    principal: CurrentPrincipal,
    session: Session,
    page: Page,
) -> DeliveryPage:
    rows = await subscriptions.list_deliveries(session, principal, webhook_id, page)
    items = [delivery_view(d, t) for d, t in rows]
    links = page_links(request, page, rows, lambda row: creation_key(row[0]))
    return DeliveryPage(items=items, links=links)
