import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import AnyHttpUrl, BaseModel, Field, SerializerFunctionWrapHandler, model_serializer

from app.kit.pagination import Link
from app.kit.schema import InputModel
from app.models import Webhook as WebhookRow
from app.models import WebhookDelivery
from app.webhooks.signatures import previous_secret_expiry


class EventType(StrEnum):
    match_proposed = "match.proposed"
    match_accepted = "match.accepted"
    match_rejected = "match.rejected"
    match_expired = "match.expired"
    offer_candidate_found = "offer.candidate_found"
    route_plan_completed = "route_plan.completed"
    hub_threshold_reached = "hub.threshold_reached"
    delivery_booked = "delivery.booked"
    delivery_cancelled = "delivery.cancelled"
    delivery_planned = "delivery.planned"
    delivery_moved = "delivery.moved"
    delivery_needs_attention = "delivery.needs_attention"
    shop_order_needs_attention = "shop_order.needs_attention"


_EVENTS = (
    "The events delivered: match.proposed, match.accepted, match.rejected, match.expired "
    "(a match of one of your listings), offer.candidate_found (a new request fits one of your "
    "offers), route_plan.completed (one of your plans is done or failed), "
    "hub.threshold_reached (a pool of one of your hubs reached its threshold), "
    "delivery.booked, delivery.cancelled, delivery.planned (in its slot's round at the "
    "cut-off), delivery.moved (to a later slot at the cut-off), delivery.needs_attention (a "
    "delivery of your shop) and shop_order.needs_attention (an order your web shop sent could "
    "not be booked: the reason is in the event)."
)


_SIGNATURE = (
    "Signs every delivery: header `Boucle-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 "
    'of "<t>.<body>" with this secret>`, and after a rotation, for a while, a second `v1` '
    "with the secret replaced. Never shown again."
)


def _secret_field() -> Any:
    return Field(
        min_length=16,
        max_length=200,
        description=f"16 to 200 characters; a long random one. {_SIGNATURE}",
    )


class WebhookCreate(InputModel):
    url: AnyHttpUrl = Field(
        examples=["https://example.org/boucle-events"],
        description="Where deliveries are POSTed: http or https, to a public address (or to "
        "one of the private destinations the server's operator allows).",
    )
    events: list[EventType] = Field(min_length=1, description=f"At least one. {_EVENTS}")
    secret: str = _secret_field()


class SecretRotation(InputModel):
    secret: str = _secret_field()
    grace_seconds: int | None = Field(
        default=None,
        ge=0,
        description="How long the secret replaced goes on signing each delivery beside the "
        "new one, in seconds: the server's grace period by default (24 hours unless its "
        "operator says otherwise), and at most that; 0 ends it at once. Sent with the current "
        "secret, it shortens the grace period of the secret the last rotation replaced.",
    )


class Webhook(BaseModel):
    """A subscription, as every answer shows it: never its secret."""

    id: uuid.UUID = Field(description="The subscription's id.")
    url: str = Field(description="Where deliveries are POSTed.")
    events: list[EventType] = Field(description=_EVENTS)
    created_at: datetime = Field(description="When it was made.")
    previous_secret_expires_at: datetime | None = Field(
        description="Until when the secret the last rotation replaced signs each delivery "
        "beside the current one (a second `v1`), or null when the current secret signs alone."
    )


def webhook_view(row: WebhookRow) -> Webhook:
    return Webhook(
        id=row.id,
        url=row.url,
        events=row.events,
        created_at=row.created_at,
        previous_secret_expires_at=previous_secret_expiry(row, datetime.now(UTC)),
    )


class WebhookPage(BaseModel):
    items: list[Webhook] = Field(description="Your subscriptions, oldest first.")
    links: list[Link] = Field(
        description="A `next` link when the page is full: follow it for the next page."
    )


class DeliveryAttempt(BaseModel):
    """One attempt of a delivery; the members that do not apply are left out."""

    at: str = Field(description="When the attempt started, ISO 8601 with its zone.")
    status_code: int | None = Field(
        default=None, description="The receiver's HTTP status, when it answered."
    )
    error: str | None = Field(
        default=None,
        description="Why the exchange did not complete: a deadline, a refused connection, an "
        "address that is not public.",
    )
    response_bytes: int | None = Field(
        default=None,
        description="How many bytes of the answer were read (reading stops at 64 KiB, by default).",
    )
    response_excerpt: str | None = Field(
        default=None,
        description="The first 200 bytes of an answer other than 2xx from a public address; "
        "never for a private destination, whose answers are not shown.",
    )
    duration_ms: int | None = Field(default=None, description="How long it took, ms.")
    retry_at: str | None = Field(
        default=None, description="When the next attempt is queued, ISO 8601 with its zone."
    )
    reason: str | None = Field(
        default=None, description="Why the delivery failed for good, on its last attempt."
    )

    @model_serializer(mode="wrap")
    def _present_only(self, handler: SerializerFunctionWrapHandler) -> Any:
        return {k: v for k, v in handler(self).items() if v is not None}


class Delivery(BaseModel):
    id: uuid.UUID = Field(description="The delivery's id: header `Boucle-Delivery`.")
    event_id: uuid.UUID = Field(
        description="The event's id, the `id` of the body: deduplicate by it."
    )
    event_type: str = Field(description="The event's type: header `Boucle-Event`.")
    status: str = Field(
        description="pending, delivered, or failed: refused by a 4xx answer other than 408 "
        "and 429, or not accepted within 24 hours of retries."
    )
    attempts: int = Field(description="How many attempts were made.")
    log: list[DeliveryAttempt] = Field(description="Each attempt, oldest first.")
    created_at: datetime = Field(description="When the event was queued for this subscription.")
    delivered_at: datetime | None = Field(description="When a 2xx answer came, or null.")


def delivery_view(row: WebhookDelivery, event_type: str) -> Delivery:
    """A delivery as its log shows it, with the type of its event."""
    return Delivery.model_validate(
        {
            **{k: getattr(row, k) for k in Delivery.model_fields if hasattr(row, k)},
            "event_type": event_type,
        }
    )


class DeliveryPage(BaseModel):
    items: list[Delivery] = Field(description="The subscription's deliveries, newest first.")
    links: list[Link] = Field(
        description="A `next` link when the page is full: follow it for the next page."
    )
