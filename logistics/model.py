"""The routing problem as plain data: integers in the units the caller chose (metres and
seconds for Brussels, scaled Euclidean units for the benchmarks), locations as indices into
travel matrices, one pair of matrices per travel profile (bike, van)."""

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt

Objective = Literal["vehicles_then_distance", "distance", "cost"]


@dataclass(frozen=True)
class Window:
    start: int
    end: int


@dataclass(frozen=True)
class Visit:
    location: int
    window: Window
    service: int = 0


@dataclass(frozen=True)
class Vehicle:
    id: str
    start: int
    end: int
    capacity: tuple[int, ...]
    shift: Window
    profile: str = "default"
    # Longest distance it may drive in a shift; None for no limit.
    range: int | None = None
    fixed_cost: int = 0
    cost_per_distance: float = 1.0
    cost_per_time: float = 0.0
    # Added to the service of each of its pickups and deliveries: finding a place to stop
    # and walking to the door take a van longer than a bike.
    stop_time: int = 0


@dataclass(frozen=True)
class Shipment:
    """Carried from `pickup` to `delivery` by one vehicle; without a pickup it is loaded at
    the vehicle's start (the classic VRPTW customer)."""

    id: str
    delivery: Visit
    load: tuple[int, ...]
    pickup: Visit | None = None
    # The vehicle profiles that may carry it; None for any.
    profiles: frozenset[str] | None = None


@dataclass(frozen=True)
class Matrices:
    distance: npt.NDArray[np.int64]
    duration: npt.NDArray[np.int64]


@dataclass(frozen=True)
class Problem:
    vehicles: list[Vehicle]
    shipments: list[Shipment]
    matrices: dict[str, Matrices]
    objective: Objective = "vehicles_then_distance"


@dataclass(frozen=True)
class Stop:
    kind: Literal["start", "pickup", "delivery", "end"]
    location: int
    shipment_id: str | None
    arrival: int
    # When service starts: the arrival, or the window's opening after a wait.
    start: int
    departure: int
    load: tuple[int, ...]
    distance: int


@dataclass(frozen=True)
class Route:
    vehicle_id: str
    stops: list[Stop]

    @property
    def distance(self) -> int:
        return self.stops[-1].distance

    @property
    def duration(self) -> int:
        return self.stops[-1].arrival - self.stops[0].departure

    @property
    def shipment_ids(self) -> list[str]:
        return [s.shipment_id for s in self.stops if s.kind == "delivery" and s.shipment_id]


# Why a shipment the precheck let through was left out, whatever the engine.
NO_ROOM = "No vehicle had the capacity or the time left to fit it in."
NO_PLAN_IN_TIME = "The solver found no plan in time."


@dataclass(frozen=True)
class Unassigned:
    shipment_id: str
    reason: Literal["too_heavy", "out_of_range", "window_unreachable", "no_room"]
    detail: str


@dataclass(frozen=True)
class EngineRun:
    """What one engine of the portfolio answered, ranked by the problem's own objective."""

    engine: str
    # Whether its plan kept every rule when re-checked (`logistics.check`); one that did not
    # is never chosen.
    feasible: bool
    vehicles: int
    distance: int
    unassigned: int
    # The problem's objective measured on its routes (`logistics.objective`).
    objective: float
    seconds: float
    problems: tuple[str, ...] = ()


@dataclass(frozen=True)
class Solution:
    routes: list[Route]
    unassigned: list[Unassigned]
    # The problem's objective measured on the routes (`logistics.objective.objective_value`).
    objective: float
    status: Literal["solved", "no_solution"]
    stats: dict[str, float] = field(default_factory=dict)
    # The engine that found the plan, and every engine's answer, when a portfolio ran.
    engine: str = ""
    runs: tuple[EngineRun, ...] = ()
