import uuid
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from app.kit.pagination import Link
from app.kit.schema import InputModel
from app.kit.spatial import MAX_RADIUS_KM
from app.matches.schemas import Match
from app.models import MatchingRun


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


class RunArea(BaseModel):
    """Where a run looked: the requests delivered within `radius_km` of `near`."""

    near: tuple[float, float] = Field(description="[lon, lat] in WGS84.", examples=[[4.35, 50.85]])
    radius_km: float = Field(description="The radius around `near`, in km.")


class CandidateGraph(BaseModel):
    """The size of the graph a run allocated over."""

    offers: int = Field(description="Offers with at least one candidate request.")
    requests: int = Field(description="Requests with at least one candidate offer.")
    arcs: int = Field(description="Candidate pairs allocated over.")


class RunTotals(BaseModel):
    """What a done run proposed, in all."""

    matches: int = Field(description="Matches proposed.")
    matched_kg: float = Field(description="Their mass, kg.")
    tonne_km: float = Field(description="Tonnes times straight-line km, summed over them.")
    transport_km: float = Field(description="Straight-line km between their two sides, summed.")
    co2_kg: float = Field(description="CO2e of carrying each by van, kg, summed.")
    net_value: float = Field(
        description="The allocation's objective: matched tonnes less the transport cost."
    )
    candidate_graph: CandidateGraph = Field(description="The size of the candidate graph.")
    pairs_too_small: int = Field(
        default=0,
        description="The candidate pairs left out because all they could exchange is less "
        "than the smallest quantity matchable between them (a thousandth of the offer's unit "
        "and of the request's: quantities are kept to three decimals).",
    )


class RunSummary(BaseModel):
    """A matching run, without its proposals."""

    id: uuid.UUID = Field(description="The run's id.")
    status: RunStatus = Field(
        description="queued, running, done (its proposals are made) or failed (`error` says why)."
    )
    attempts: int = Field(
        description="How many times a worker started it. A worker that dies or is stopped "
        "mid-way leaves it `queued` for the next attempt, from the start; after 3 attempts it "
        "is `failed`, and `error` says why."
    )
    material: str | None = Field(
        description="The EWC code, sub-chapter or chapter it was limited to; null: all."
    )
    area: RunArea | None = Field(description="The area it was limited to; null: everywhere.")
    cost_per_tonne_km: float = Field(description="The transport cost it weighed, per tonne-km.")
    totals: RunTotals | None = Field(description="When done: what it proposed, in all.")
    error: str | None = Field(
        description="When failed: why, in a sentence for people; the details are in the "
        "operators' log."
    )
    created_at: datetime = Field(description="When it was asked for.")
    started_at: datetime | None = Field(description="When a worker last started it.")
    finished_at: datetime | None = Field(description="When it was done or failed.")


class Run(RunSummary):
    """A matching run and, when done, the matches it proposed."""

    matches: list[Match] = Field(
        default_factory=list, description="The proposed matches, when done."
    )


def run_summary_view(row: MatchingRun) -> RunSummary:
    return RunSummary.model_validate(row, from_attributes=True)


def run_view(row: MatchingRun, matches: list[Match]) -> Run:
    return Run.model_validate({**run_summary_view(row).model_dump(), "matches": matches})


class RunPage(BaseModel):
    items: list[RunSummary] = Field(
        description="The page's runs, newest first; GET one for its matches."
    )
    links: list[Link] = Field(description="`next` when the page is full; empty on the last.")
