import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import AnyHttpUrl, BaseModel, Field

from app.kit.pagination import Link
from app.kit.schema import InputModel


class EventType(StrEnum):
    match_proposed = "match.proposed"
    match_accepted = "match.accepted"
    match_rejected = "match.rejected"
    match_expired = "match.expired"
    offer_candidate_found = "offer.candidate_found"
    route_plan_completed = "route_plan.completed"
    hub_threshold_reached = "hub.threshold_reached"


class WebhookCreate(InputModel):
    url: AnyHttpUrl = Field(examples=["https://example.org/boucle-events"])
    events: list[EventType] = Field(min_length=1)
    secret: str = Field(
        min_length=16,
        max_length=200,
        description="Signs every delivery: header `Boucle-Signature: t=<unix seconds>,v1=<hex "
        'HMAC-SHA256 of "<t>.<body>" with this secret>`.',
    )


class Webhook(BaseModel):
    id: uuid.UUID
    url: str
    events: list[EventType]
    created_at: datetime


class WebhookPage(BaseModel):
    items: list[Webhook]
    links: list[Link]


class Delivery(BaseModel):
    id: uuid.UUID
    event_id: uuid.UUID
    event_type: str
    status: str = Field(
        description="pending, delivered, or failed: refused by a 4xx answer other than 408 "
        "and 429, or not accepted within 24 hours of retries."
    )
    attempts: int
    log: list[dict[str, Any]] = Field(
        description="Each attempt: `at`; `status_code` when the receiver answered; `error` when "
        "the exchange did not complete (a deadline, a refused connection, an address that is "
        "not public); `response_excerpt`, the start of an answer other than 2xx; "
        "`duration_ms`; then `retry_at` when the next attempt is queued, or `reason` when "
        "the delivery failed for good."
    )
    created_at: datetime
    delivered_at: datetime | None


class DeliveryPage(BaseModel):
    items: list[Delivery]
    links: list[Link]
