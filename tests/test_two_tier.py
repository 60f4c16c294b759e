"""Two-tier plans in the routing engine: through the hub when it pays, door to door when it
does not, transfers that keep time, and the plans compared reported as they improve."""

import math

import numpy as np
import pytest

from logistics.model import Matrices, Problem, Shipment, Vehicle, Visit, Window
from logistics.two_tier import TransferHub, solve_two_tier, split_leg_id
from tests.engine_reports import heard_while

DEPOT, HUB = (0.0, 0.0), (12000.0, 0.0)
DAY = Window(8 * 3600, 18 * 3600)
SECONDS = 3.0


def _problem(
    places: list[tuple[float, float]], pairs: list[tuple[int, int]]
) -> tuple[Problem, TransferHub]:
    """Places in metres: 0 the van depot, 1 the hub, then the others. Vans cost ten times
    what bikes cost per metre; a bike rides 20 km at most, so it cannot fetch from the depot
    side itself."""
    xy = np.array(places)
    metres = np.rint(np.sqrt(((xy[:, None, :] - xy[None, :, :]) ** 2).sum(axis=2))).astype(np.int64)

    def profile(speed: float) -> Matrices:
        return Matrices(metres, np.ceil(metres / speed).astype(np.int64))

    vans = [Vehicle(f"van-{k}", 0, 0, (1_000_000,), DAY, "van", None, 2000, 1.0) for k in range(2)]
    bikes = [
        Vehicle(f"bike-{k}", 1, 1, (150_000,), DAY, "bike", 20_000, 200, 0.1) for k in range(3)
    ]
    shipments = [
        Shipment(
            f"s{k}",
            pickup=Visit(p, DAY, 120),
            delivery=Visit(d, DAY, 120),
            load=(20_000,),
        )
        for k, (p, d) in enumerate(pairs)
    ]
    zone = frozenset(
        i for i, (x, y) in enumerate(places) if math.dist((x, y), HUB) <= 3500 and i != 1
    )
    problem = Problem(
        [*vans, *bikes], shipments, {"van": profile(8.0), "bike": profile(4.0)}, "cost"
    )
    return problem, TransferHub("hub", 1, 1800, zone)


def test_shops_around_the_hub_are_served_through_it_by_bike() -> None:
    # A warehouse by the depot sends to ten shops scattered around the hub, 12 km away.
    angles = np.linspace(0, 2 * math.pi, 10, endpoint=False)
    shops = [(HUB[0] + 2500 * math.cos(a), HUB[1] + 2500 * math.sin(a)) for a in angles]
    problem, hub = _problem([DEPOT, HUB, (300.0, 0.0), *shops], [(2, 3 + k) for k in range(10)])
    result, heard = heard_while(
        lambda report: solve_two_tier(problem, [hub], frozenset({"bike"}), SECONDS, report)
    )

    assert set(result.via_hub) == {f"s{k}" for k in range(10)}
    assert result.chosen in ("all_via_hub", "mixed")
    assert result.compared["all_via_hub"] < 0.9 * result.compared["direct"]
    # While it searched, the plans compared were reported as they improved, and the best of
    # them is the plan chosen.
    assert {"direct", "all_via_hub"} <= {found.compared_plan for found in heard}
    best = min(heard, key=lambda found: found.rank)
    assert best.compared_plan == result.chosen
    assert best.rank[2] == pytest.approx(result.compared[result.chosen], abs=0.1)
    tiers = {
        route.vehicle_id.split("-")[0]: {split_leg_id(sid)[1] for sid in route.shipment_ids}
        for route in result.solution.routes
    }
    assert tiers == {"van": {"trunk"}, "bike": {"last_mile"}}
    assert not result.solution.unassigned
    # Every shop's goods reach the hub by van before a bike takes them on.
    assert len(result.transfers) == 10
    for transfer in result.transfers:
        assert transfer.inbound_vehicle_id.startswith("van")
        assert transfer.outbound_vehicle_id.startswith("bike")
        assert transfer.outbound_start >= transfer.inbound_ready + hub.handling


def test_a_shipment_the_hub_would_send_the_wrong_way_goes_door_to_door() -> None:
    # Pickup and delivery 1.3 km apart, west of the hub; through the hub it would travel 7 km.
    problem, hub = _problem([DEPOT, HUB, (8500.0, 2500.0), (9400.0, 1500.0)], [(2, 3)])
    assert 3 in hub.zone and 2 not in hub.zone
    result = solve_two_tier(problem, [hub], frozenset({"bike"}), SECONDS)

    assert result.via_hub == {} and result.transfers == [] and result.chosen == "direct"
    assert result.compared["direct"] < result.compared["all_via_hub"]
    [route] = result.solution.routes
    assert route.vehicle_id.startswith("van") and route.shipment_ids == ["s0"]


def test_windows_that_leave_no_time_for_the_transfer_keep_the_shipment_direct() -> None:
    angles = np.linspace(0, 2 * math.pi, 4, endpoint=False)
    shops = [(HUB[0] + 2500 * math.cos(a), HUB[1] + 2500 * math.sin(a)) for a in angles]
    problem, hub = _problem([DEPOT, HUB, (300.0, 0.0), *shops], [(2, 3 + k) for k in range(4)])
    # s0 must be delivered within 45 minutes of its pickup: no time to stop at the hub.
    tight = [
        Shipment(
            s.id,
            pickup=Visit(s.pickup.location, Window(9 * 3600, 9 * 3600 + 300), 120),
            delivery=Visit(s.delivery.location, Window(9 * 3600, 9 * 3600 + 2700), 120),
            load=s.load,
        )
        if s.id == "s0" and s.pickup is not None
        else s
        for s in problem.shipments
    ]
    problem = Problem(problem.vehicles, tight, problem.matrices, "cost")
    result = solve_two_tier(problem, [hub], frozenset({"bike"}), SECONDS)

    assert "s0" not in result.via_hub and {"s1", "s2", "s3"} <= set(result.via_hub)
    assert not result.solution.unassigned
    direct = [r for r in result.solution.routes if "s0" in r.shipment_ids]
    assert direct and direct[0].vehicle_id.startswith("van")
