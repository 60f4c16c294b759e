"""A route plan's translation, pure: the frozen inputs into the engine's problem and its
answer back into the result the API gives, without a database or a search."""

from datetime import date
from typing import Any

import pytest

from app.route_plans.inputs import BASELINE_VAN, plan_points, vehicle_profile
from app.route_plans.plan_inputs import PlanInputs
from app.route_plans.problem import PlanProblem, plan_problem
from app.route_plans.result_schema import RoutePlanResult
from app.route_plans.translation import plan_result
from logistics.kpis import plan_figures
from logistics.matrices import straight_line
from logistics.model import Route, Solution, Stop, Unassigned

DAY = date(2026, 12, 1)
TIR, SUPPLIER, SHOP = [4.3467, 50.866], [4.35, 50.87], [4.354, 50.851]


def end(location: list[float], opens: str, closes: str) -> dict[str, Any]:
    return {
        "location": location,
        "window_from": f"2026-12-01T{opens}:00+01:00",
        "window_until": f"2026-12-01T{closes}:00+01:00",
        "service_s": 120,
    }


# As `route_plans.inputs` stores them.
INPUTS = PlanInputs.model_validate(
    {
        "version": 2,
        "vehicles": [
            {
                "id": "inline-1",
                "name": "Bike",
                "type": "cargo_bike",
                "capacity_kg": 150,
                "capacity_m3": 1.0,
                "speed_kmh": 15,
                "range_km": 50,
                "start": TIR,
                "end": TIR,
                "shift_start": "07:00:00",
                "shift_end": "19:00:00",
                "cost_per_km": 0.1,
                "cost_per_hour": 25,
                "fixed_cost": 10,
                "co2_g_per_km": 0,
                "stop_time_s": 60,
            }
        ],
        "shipments": [
            {
                "id": "parcel",
                "reference": "parcel",
                "pickup": end(SUPPLIER, "08:00", "12:00"),
                "delivery": end(SHOP, "09:00", "17:00"),
                "load_kg": 20,
                "load_m3": 0.1,
            }
        ],
        "mode": "direct",
        "hubs": [],
    }
)


def planned(inputs: PlanInputs = INPUTS) -> PlanProblem:
    points = plan_points(inputs)
    matrices = {p.name: straight_line(points, p) for p in map(vehicle_profile, inputs.vehicles)}
    return plan_problem(DAY, inputs, "distance", matrices)


def baseline(inputs: PlanInputs = INPUTS) -> Any:
    return straight_line(plan_points(inputs), BASELINE_VAN)


def test_the_problem_is_in_the_engines_units() -> None:
    problem = planned().problem
    [bike] = problem.vehicles
    assert bike.capacity == (150_000, 1_000)  # grams, litres
    assert (bike.shift.start, bike.shift.end) == (7 * 3600, 19 * 3600)  # from midnight
    assert bike.range == 50_000 and bike.stop_time == 60
    assert bike.cost_per_distance == 1.0  # 0.1 EUR per km in 1/10,000 EUR per metre
    [parcel] = problem.shipments
    assert parcel.pickup is not None and parcel.pickup.window.start == 8 * 3600
    assert (parcel.delivery.window.end, parcel.load) == (17 * 3600, (20_000, 100))


def test_a_route_comes_back_in_local_time_kg_and_km() -> None:
    plan = planned()
    distance = plan.problem.matrices[plan.problem.vehicles[0].profile].distance
    legs = [int(distance[0, 1]), int(distance[0, 1] + distance[1, 2])]
    loaded = (20_000, 100)
    stops = [
        Stop("start", 0, None, 25_200, 25_200, 28_000, (0, 0), 0),
        Stop("pickup", 1, "parcel", 28_700, 28_800, 29_000, loaded, legs[0]),
        Stop("delivery", 2, "parcel", 30_000, 32_400, 32_580, (0, 0), legs[1]),
        Stop("end", 0, None, 33_500, 33_500, 33_500, (0, 0), legs[1] + int(distance[2, 0])),
    ]
    solution = Solution([Route("inline-1", stops)], [], 0.0, "solved", {"seconds": 0.4}, "pyvrp")
    answer = plan_result(plan, solution, baseline(), "straight_line").model_dump(mode="json")
    [route] = answer["routes"]
    assert set(route) == {
        "vehicle_id",
        "vehicle_name",
        "vehicle_type",
        "km",
        "hours",
        "co2_kg",
        "tonne_km",
        "stops",
    }
    pickup = route["stops"][1]
    assert pickup == {
        "kind": "pickup",
        "shipment_id": "parcel",
        "location": SUPPLIER,
        "arrival": "2026-12-01T07:58:20+01:00",
        "start": "2026-12-01T08:00:00+01:00",
        "departure": "2026-12-01T08:03:20+01:00",
        "load_kg": 20.0,
        "load_m3": 0.1,
        "km": round(legs[0] / 1000, 3),
    }
    assert route["stops"][0]["shipment_id"] is None
    assert answer["kpis"]["vehicles"] == 1 and answer["kpis"]["km"] == route["km"]
    assert answer["baseline"]["km"] > 0 and answer["saving"]["co2_kg"] > 0
    assert answer["solver"] == {
        "seconds": 0.4,
        "objective": "distance",
        "engine": "pyvrp",
        "engines": [],
    }


def test_an_empty_answer_is_a_plan_of_nothing_with_every_reason() -> None:
    unservable = [Unassigned("parcel", "too_heavy", "Its load exceeds every vehicle's capacity.")]
    solution = Solution([], unservable, 0.0, "solved", {"seconds": 0.0})
    answer = plan_result(planned(), solution, baseline(), "straight_line")
    assert answer.routes == [] and answer.co2_kg_by_shipment == {}
    assert [(u.shipment_id, u.reason) for u in answer.unassigned] == [("parcel", "too_heavy")]
    assert (answer.kpis.km, answer.kpis.vehicles, answer.baseline.km) == (0, 0, 0)
    assert answer.saving.model_dump() == {"km": 0, "co2_kg": 0, "km_pct": 0, "co2_pct": 0}
    assert answer.solver.engine == "" and answer.solver.engines == []


# A result as the first versions stored it: no mode, no engines.
STORED_BEFORE_ENGINES: dict[str, Any] = {
    "matrix": "straight_line",
    "routes": [
        {
            "vehicle_id": "inline-1",
            "vehicle_name": "Bike",
            "vehicle_type": "cargo_bike",
            "km": 4.2,
            "hours": 0.5,
            "co2_kg": 0.0,
            "tonne_km": 0.06,
            "stops": [
                {
                    "kind": kind,
                    "shipment_id": shipment,
                    "location": place,
                    "arrival": "2026-12-01T08:00:00+01:00",
                    "start": "2026-12-01T08:00:00+01:00",
                    "departure": "2026-12-01T08:05:00+01:00",
                    "load_kg": load,
                    "load_m3": 0.0,
                    "km": km,
                }
                for kind, shipment, place, load, km in [
                    ("start", None, TIR, 0.0, 0.0),
                    ("pickup", "parcel", SUPPLIER, 20.0, 1.0),
                    ("delivery", "parcel", SHOP, 0.0, 3.0),
                    ("end", None, TIR, 0.0, 4.2),
                ]
            ],
        }
    ],
    "unassigned": [],
    "kpis": {"km": 4.2, "hours": 0.5, "vehicles": 1, "co2_kg": 0.0, "tonne_km": 0.06},
    "co2_kg_by_shipment": {"parcel": 0.0},
    "baseline": {"description": "each assigned shipment ...", "km": 5.0, "co2_kg": 1.35},
    "saving": {"km": 0.8, "co2_kg": 1.35, "km_pct": 16.0, "co2_pct": 100.0},
    "solver": {"seconds": 1.02, "objective": "vehicles_then_distance"},
}


def test_results_stored_by_earlier_versions_answer_as_they_were_with_the_new_defaults() -> None:
    answered = RoutePlanResult.model_validate(STORED_BEFORE_ENGINES).model_dump(mode="json")
    assert answered == {
        **STORED_BEFORE_ENGINES,
        "mode": "direct",
        "solver": {**STORED_BEFORE_ENGINES["solver"], "engine": "", "engines": []},
    }
    two_tier = {
        **STORED_BEFORE_ENGINES,
        "mode": "two_tier",
        "via_hub": {},
        "transfers": [],
        "compared_costs_eur": {"direct": 41.5},
        "solver": {**STORED_BEFORE_ENGINES["solver"], "decided_by": "cost"},
    }
    answered = RoutePlanResult.model_validate(two_tier).model_dump(mode="json")
    assert answered["solver"]["decided_by"] == "cost" and "chosen" not in answered["solver"]
    assert answered["compared_costs_eur"] == {"direct": 41.5} and answered["via_hub"] == {}


def test_a_route_s_co2e_is_shared_by_its_shipments_by_tonne_km() -> None:
    # One van, 30 km: 100 kg for 10 km and 300 kg for 20 km (1 and 6 tonne-km), then back empty.
    def stop(kind: str, shipment_id: str | None, km: int) -> Stop:
        return Stop(kind, 0, shipment_id, 0, 0, 0, (0,), km * 1000)  # type: ignore[arg-type]

    route = Route(
        "van",
        [
            stop("start", None, 0),
            stop("pickup", "light", 0),
            stop("pickup", "heavy", 0),
            stop("delivery", "light", 10),
            stop("delivery", "heavy", 20),
            stop("end", None, 30),
        ],
    )
    unused = straight_line([(4.35, 50.85)], BASELINE_VAN)
    figures = plan_figures([route], {"van": 0.2}, {"light": 100_000, "heavy": 300_000}, {}, unused)
    assert figures.co2_kg == 6.0 and figures.tonne_km == 7.0
    assert figures.co2_kg_by_shipment == {"light": round(6 / 7, 4), "heavy": round(36 / 7, 4)}
    assert sum(figures.co2_kg_by_shipment.values()) == pytest.approx(figures.co2_kg, abs=1e-3)
