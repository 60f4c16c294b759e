import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from app.kit.schema import InputModel
from app.kit.spatial import MAX_RADIUS_KM
from app.matches.schemas import Match


class RunStatus(StrEnum):
    queued = "queued"
    running = "running"
    done = "done"
    failed = "failed"


class RunCreate(InputModel):
    material: str | None = Field(
        default=None,
        max_length=12,
        examples=["17"],
        description="Only this EWC code, sub-chapter or chapter.",
    )
    near: tuple[float, float] | None = Field(
        default=None,
        examples=[[4.35, 50.85]],
        description="[lon, lat] in WGS84: only requests delivered within `radius_km` of it "
        "(both or neither).",
    )
    radius_km: float | None = Field(
        default=None,
        gt=0,
        le=MAX_RADIUS_KM,
        validate_default=True,
        description=f"With `near`: at most {MAX_RADIUS_KM} km.",
    )
    cost_per_tonne_km: float = Field(
        default=0.02,
        ge=0,
        le=10,
        description="Transport cost per tonne-km, in tonnes of matched material: at 0.02 a pair "
        "50 km apart is worth nothing.",
    )

    @field_validator("near")
    @classmethod
    def _lon_lat(cls, value: tuple[float, float] | None) -> tuple[float, float] | None:
        if value is not None and not (-180 <= value[0] <= 180 and -90 <= value[1] <= 90):
            raise PydanticCustomError(
                "coordinate_range", "[lon, lat]: longitude in [-180, 180], latitude in [-90, 90]"
            )
        return value

    @field_validator("radius_km")
    @classmethod
    def _with_near(cls, value: float | None, info: ValidationInfo) -> float | None:
        if "near" not in info.data:  # near itself was refused
            return value
        if value is not None and info.data["near"] is None:
            raise PydanticCustomError("requires_near", "radius_km needs near")
        if value is None and info.data["near"] is not None:
            raise PydanticCustomError("required_with_near", "near needs radius_km")
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
        description="When done: matches, matched_kg, tonne_km, transport_km, co2_kg, net_value, "
        "the size of the candidate graph, and pairs_too_small: the candidate pairs left out "
        "because all they could exchange is less than the smallest quantity matchable between "
        "them (a thousandth of the offer's unit and of the request's: quantities are kept to "
        "three decimals)."
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
