import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import AnyHttpUrl, BaseModel, Field

from app.kit.pagination import Link


class EventType(StrEnum):
    match_proposed = "match.proposed"
    match_accepted = "match.accepted"
    match_rejected = "match.rejected"
    offer_candidate_found = "offer.candidate_found"
    route_plan_completed = "route_plan.completed"
    hub_threshold_reached = "hub.threshold_reached"


class WebhookCreate(BaseModel):
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


class Delivery(BaseModel):
    id: uuid.UUID
    event_id: uuid.UUID
    event_type: str
    status: str = Field(description="pending, delivered, or failed after 24 hours of retries.")
    attempts: int
    log: list[dict[str, Any]] = Field(
        description="Each attempt: at, status_code or error, duration_ms."
    )
    created_at: datetime
    delivered_at: datetime | None


class DeliveryPage(BaseModel):
    items: list[Delivery]
    links: list[Link]
