import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from app.matches.schemas import Match


class RunStatus(StrEnum):
    queued = "queued"
    running = "running"
    done = "done"
    failed = "failed"


class RunCreate(BaseModel):
    material: str | None = Field(
        default=None, examples=["17"], description="Only this EWC code, sub-chapter or chapter."
    )
    near: tuple[float, float] | None = Field(
        default=None,
        examples=[[4.35, 50.85]],
        description="[lon, lat]: only requests delivered around it.",
    )
    radius_km: float | None = Field(default=None, gt=0, le=200)
    cost_per_tonne_km: float = Field(
        default=0.02,
        ge=0,
        le=10,
        description="Transport cost per tonne-km, in tonnes of matched material: at 0.02 a pair "
        "50 km apart is worth nothing.",
    )

    @field_validator("radius_km")
    @classmethod
    def _needs_near(cls, value: float | None, info: ValidationInfo) -> float | None:
        if value is not None and info.data.get("near") is None:
            raise PydanticCustomError("requires_near", "radius_km needs near")
        return value


class Run(BaseModel):
    id: uuid.UUID
    status: RunStatus
    attempts: int = Field(
        description="How many times a worker started it. A worker that dies or is stopped "
        "mid-way leaves it `queued` for the next attempt, from the start; after 3 attempts it "
        "is `failed`, and `error` says why."
    )
    material: str | None
    area: dict[str, Any] | None
    cost_per_tonne_km: float
    totals: dict[str, Any] | None = Field(
        description="When done: matches, matched_kg, tonne_km, transport_km, co2_kg, net_value "
        "and the size of the candidate graph."
    )
    error: str | None = Field(
        description="When failed: why, in a sentence for people; the details are in the "
        "operators' log."
    )
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    matches: list[Match] = Field(
        default_factory=list, description="The proposed matches, when done."
    )
