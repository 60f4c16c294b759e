"""Two-tier rounds: vans carry between the far end and a hub, cargo bikes between the hub and
the near end, for the shipments where that detour pays.

A shipment is a candidate when exactly one of its ends lies in a hub's zone. Through the hub
it becomes two legs, each an ordinary shipment restricted to its tier's vehicles. The legs
are tied in time by a cut at the hub: the first leg must be at the hub by the cut, the second
may leave it from the cut plus the handling time, so any plan that serves both legs keeps the
transfer consistent. The cut gives the first leg half the slack the windows leave, at most
three hours, and the second leg the rest.

Bikes keep to the zones: a shipment with an end outside every zone goes by van, door to door
or as the first leg to a hub. Which candidates go through the hub is decided by cost (per km,
per hour and per vehicle used, the only measure in which a bike km and a van km compare): the
search solves the plan with every candidate door to door and with every candidate through
its hub, keeps through the hub those whose two legs cost less there than the door-to-door
trip costs, and solves that mix. Each mix tells again what each candidate costs the way it
went, and the next mix keeps through the hub those that pay by these figures, while time is
left and the mix is new. The cheapest plan of all is returned."""

import itertools
import time
from dataclasses import dataclass, field, replace
from typing import Literal

from logistics.model import (
    Matrices,
    Problem,
    Route,
    Shipment,
    Solution,
    Stop,
    Unassigned,
    Vehicle,
    Visit,
    Window,
)
from logistics.objective import objective_value
from logistics.portfolio import solve
from logistics.precheck import unservable_reason
from logistics.progress import Improvement, Sink

Tier = Literal["trunk", "last_mile"]
# At most this long (in the problem's time unit, seconds for Brussels) after the earliest
# moment the goods could reach the hub, the first leg must be there: time to gather a load on
# the way, while the rest of the windows is left to the second leg.
FIRST_LEG_SLACK = 3 * 3600
LEG_SEPARATOR = "|"
# Shares of the time limit: the direct plan and the plan with every candidate through its
# hub get a fifth each, each mix three tenths (two mixes, the second refining the first). On
# the `make demo` day these shares planned 117.3 to 124.1 km in 7 runs; a third each for
# direct, all via hub and one mix, 128.9 km; a quarter each, 117.3 to 131.8 km in 10 runs
# (bench/README.md).
COMPARED_SHARE = 0.2
MIX_SHARE = 0.3
# No search is shorter than this.
MIN_SEARCH_S = 0.5


@dataclass(frozen=True)
class TransferHub:
    id: str
    location: int
    # From the first leg's arrival to the earliest departure of the second.
    handling: int
    # The locations it serves by cargo bike.
    zone: frozenset[int]


@dataclass(frozen=True)
class Transfer:
    shipment_id: str
    hub_id: str
    # The first leg's vehicle and when it has unloaded at the hub; the second leg's vehicle
    # and when it loads there.
    inbound_vehicle_id: str
    inbound_ready: int
    outbound_vehicle_id: str
    outbound_start: int


@dataclass(frozen=True)
class TwoTierSolution:
    # Routes of both tiers; their stops name legs as `<shipment id>|trunk` or `|last_mile`.
    solution: Solution
    via_hub: dict[str, str]
    transfers: list[Transfer]
    # The cost of each plan compared: direct, all_via_hub and mixed (when it differed), and
    # the one chosen.
    compared: dict[str, float] = field(default_factory=dict)
    chosen: str = "direct"


def leg_id(shipment_id: str, tier: Tier) -> str:
    return f"{shipment_id}{LEG_SEPARATOR}{tier}"


def split_leg_id(value: str) -> tuple[str, Tier | None]:
    shipment_id, _, tier = value.rpartition(LEG_SEPARATOR)
    if tier in ("trunk", "last_mile"):
        return shipment_id, tier  # type: ignore[return-value]
    return value, None


@dataclass(frozen=True)
class _Candidate:
    shipment: Shipment
    hub: TransferHub
    # The legs, in the order the goods travel.
    first: Shipment
    second: Shipment


def _slowest(problem: Problem, profiles: frozenset[str]) -> str:
    """The profile whose durations bound the tier's travel times from above."""
    return max(profiles, key=lambda p: int(problem.matrices[p].duration.sum()))


def _candidates(
    problem: Problem, hubs: list[TransferHub], bike_profiles: frozenset[str]
) -> list[_Candidate]:
    van_profiles = frozenset(v.profile for v in problem.vehicles) - bike_profiles
    if not van_profiles or not bike_profiles:
        return []
    van = problem.matrices[_slowest(problem, van_profiles)].duration
    bike = problem.matrices[_slowest(problem, bike_profiles)].duration
    found = []
    for s in problem.shipments:
        if s.pickup is None:
            continue
        p, d = s.pickup, s.delivery
        for hub in hubs:
            inbound = d.location in hub.zone and p.location not in hub.zone
            outbound = p.location in hub.zone and d.location not in hub.zone
            if not (inbound or outbound):
                continue
            first_matrix, second_matrix = (van, bike) if inbound else (bike, van)
            first_profiles, second_profiles = (
                (van_profiles, bike_profiles) if inbound else (bike_profiles, van_profiles)
            )
            stop = max(v.stop_time for v in problem.vehicles if v.profile in first_profiles)
            at_hub = p.window.start + p.service + stop + int(first_matrix[p.location, hub.location])
            leave_by = d.window.end - int(second_matrix[hub.location, d.location])
            slack = leave_by - hub.handling - at_hub
            if slack < 0:
                continue
            cut = at_hub + min(slack // 2, FIRST_LEG_SLACK)
            first = Shipment(
                leg_id(s.id, "trunk" if inbound else "last_mile"),
                delivery=Visit(hub.location, Window(p.window.start, cut)),
                load=s.load,
                pickup=p,
                profiles=first_profiles,
            )
            second = Shipment(
                leg_id(s.id, "last_mile" if inbound else "trunk"),
                delivery=d,
                load=s.load,
                pickup=Visit(hub.location, Window(cut + hub.handling, leave_by)),
                profiles=second_profiles,
            )
            if unservable_reason(problem, first) or unservable_reason(problem, second):
                continue  # too heavy for a bike, say, or no time left for the handling
            found.append(_Candidate(s, hub, first, second))
            break
    return found


def _bikes_in_zones(
    problem: Problem, hubs: list[TransferHub], bike_profiles: frozenset[str]
) -> Problem:
    """The tiers keep to their part: a shipment with an end outside every zone goes by van,
    door to door or as the first leg to a hub; bikes carry within a hub's zone."""
    vans = frozenset(v.profile for v in problem.vehicles) - bike_profiles
    if not vans:
        return problem

    def within_a_zone(s: Shipment) -> bool:
        ends = {s.delivery.location} | ({s.pickup.location} if s.pickup else set())
        return any(ends <= hub.zone | {hub.location} for hub in hubs)

    shipments = [
        s if s.profiles is not None or within_a_zone(s) else replace(s, profiles=vans)
        for s in problem.shipments
    ]
    return replace(problem, shipments=shipments)


def _with_legs(problem: Problem, via: list[_Candidate]) -> Problem:
    replaced = {c.shipment.id for c in via}
    shipments = [s for s in problem.shipments if s.id not in replaced]
    for c in via:
        shipments += [c.first, c.second]
    return replace(problem, shipments=shipments, objective="cost")


def _vehicle_of(problem: Problem, route: Route) -> Vehicle:
    return next(v for v in problem.vehicles if v.id == route.vehicle_id)


def _distance(m: Matrices, path: list[Stop]) -> int:
    return sum(int(m.distance[a.location, b.location]) for a, b in itertools.pairwise(path))


def _busy(m: Matrices, stop_time: int, path: list[Stop]) -> int:
    """Travel, service, and the stop time on reaching each new place."""
    return sum(
        int(m.duration[a.location, b.location])
        + (b.departure - b.start)
        + (stop_time if b.shipment_id and a.location != b.location else 0)
        for a, b in itertools.pairwise(path)
    )


def _removal_saving(problem: Problem, solution: Solution, shipment_id: str) -> float | None:
    """What the plan saves in distance and time costs without this shipment's stops (the
    others kept in order); None when it is not served."""
    for route in solution.routes:
        if shipment_id not in route.shipment_ids:
            continue
        vehicle = _vehicle_of(problem, route)
        m = problem.matrices[vehicle.profile]
        every = route.stops
        kept = [s for s in route.stops if s.shipment_id != shipment_id]

        shorter = _distance(m, every) - _distance(m, kept)
        quicker = _busy(m, vehicle.stop_time, every) - _busy(m, vehicle.stop_time, kept)
        only_one = len(route.shipment_ids) == 1
        return (
            vehicle.cost_per_distance * shorter
            + vehicle.cost_per_time * quicker
            + (vehicle.fixed_cost if only_one else 0)
        )
    return None


def _legs_saving(problem: Problem, solution: Solution, candidate: _Candidate) -> float | None:
    legs = [
        _removal_saving(problem, solution, leg.id) for leg in (candidate.first, candidate.second)
    ]
    return None if None in legs else sum(x for x in legs if x is not None)


def _pays(via_hub: float | None, door_to_door: float | None) -> bool:
    return via_hub is not None and door_to_door is not None and via_hub < door_to_door


@dataclass(frozen=True)
class _Tried:
    solution: Solution
    via: list[_Candidate]
    name: str
    cost: float

    def rank(self) -> tuple[int, float]:
        return len(self.solution.unassigned), self.cost


def _orphans(solution: Solution, via: list[_Candidate]) -> list[_Candidate]:
    """Candidates with one leg served and not the other: the goods would wait at the hub."""
    served = {sid for r in solution.routes for sid in r.shipment_ids}
    return [c for c in via if (c.first.id in served) != (c.second.id in served)]


def _transfers(solution: Solution, via: list[_Candidate]) -> list[Transfer]:
    stops = {
        (stop.shipment_id, stop.kind): (route.vehicle_id, stop)
        for route in solution.routes
        for stop in route.stops
    }
    transfers = []
    for c in via:
        arrived = stops.get((c.first.id, "delivery"))
        leaving = stops.get((c.second.id, "pickup"))
        if arrived is None or leaving is None:
            continue
        transfers.append(
            Transfer(
                c.shipment.id,
                c.hub.id,
                arrived[0],
                arrived[1].departure,
                leaving[0],
                leaving[1].start,
            )
        )
    return transfers


def _unassigned(solution: Solution, via: list[_Candidate]) -> list[Unassigned]:
    """Unassigned legs as their shipment, once."""
    result: dict[str, Unassigned] = {}
    for u in solution.unassigned:
        shipment_id, _ = split_leg_id(u.shipment_id)
        result.setdefault(shipment_id, replace(u, shipment_id=shipment_id))
    return list(result.values())


def _answer(tried: _Tried, compared: dict[str, float], started: float) -> TwoTierSolution:
    solution = replace(
        tried.solution,
        unassigned=_unassigned(tried.solution, tried.via),
        stats={**tried.solution.stats, "seconds": time.monotonic() - started},
    )
    return TwoTierSolution(
        solution=solution,
        via_hub={c.shipment.id: c.hub.id for c in tried.via},
        transfers=_transfers(solution, tried.via),
        compared={k: round(v, 1) for k, v in compared.items()},
        chosen=tried.name,
    )


def solve_two_tier(
    problem: Problem,
    hubs: list[TransferHub],
    bike_profiles: frozenset[str],
    time_limit_s: float,
    report: Sink | None = None,
    *,
    processes: int | None = None,
) -> TwoTierSolution:
    """The cheapest of the plans compared, each searched in `processes` processes at once
    (`portfolio.solve`); `report` hears of the engines' better plans as they go, each naming
    the plan compared it belongs to."""
    started = time.monotonic()
    problem = _bikes_in_zones(problem, hubs, bike_profiles)
    candidates = _candidates(problem, hubs, bike_profiles)
    direct_problem = replace(problem, objective="cost")
    if not candidates:
        direct = solve(
            direct_problem, time_limit_s, processes=processes, report=_naming(report, "direct")
        )
        only = _Tried(direct, [], "direct", objective_value(direct_problem, direct))
        return _answer(only, {"direct": only.cost}, started)
    direct = solve(
        direct_problem,
        max(MIN_SEARCH_S, time_limit_s * COMPARED_SHARE),
        report=_naming(report, "direct"),
        processes=processes,
    )
    best = _Tried(direct, [], "direct", objective_value(direct_problem, direct))
    compared = {"direct": best.cost}
    all_via = _with_legs(problem, candidates)
    through = solve(
        all_via,
        max(MIN_SEARCH_S, time_limit_s * COMPARED_SHARE),
        report=_naming(report, "all_via_hub"),
        processes=processes,
    )
    compared["all_via_hub"] = objective_value(all_via, through)
    if not _orphans(through, candidates):
        tried = _Tried(through, candidates, "all_via_hub", compared["all_via_hub"])
        best = min(best, tried, key=_Tried.rank)
    # What each candidate costs each way, in the last plan that carried it that way.
    door_to_door = {
        c.shipment.id: _removal_saving(direct_problem, direct, c.shipment.id) for c in candidates
    }
    via_hub = {c.shipment.id: _legs_saving(all_via, through, c) for c in candidates}
    searched = {frozenset[str](), frozenset(door_to_door)}
    while True:
        pays = [c for c in candidates if _pays(via_hub[c.shipment.id], door_to_door[c.shipment.id])]
        ids = frozenset(c.shipment.id for c in pays)
        remaining = time_limit_s - (time.monotonic() - started)
        if ids in searched or remaining < MIN_SEARCH_S:
            break
        searched.add(ids)
        mixed_problem = _with_legs(problem, pays)
        mix_s = time_limit_s * MIX_SHARE
        mixed = solve(
            mixed_problem,
            remaining if remaining < 1.5 * mix_s else mix_s,
            report=_naming(report, "mixed"),
            processes=processes,
        )
        orphans = _orphans(mixed, pays)
        for c in candidates:
            if c in orphans:
                # Its legs do not fit together in this mix: door to door from now on.
                via_hub[c.shipment.id] = None
            elif c in pays:
                via_hub[c.shipment.id] = _legs_saving(mixed_problem, mixed, c)
            else:
                door_to_door[c.shipment.id] = _removal_saving(mixed_problem, mixed, c.shipment.id)
        if orphans:
            continue
        tried = _Tried(mixed, pays, "mixed", objective_value(mixed_problem, mixed))
        compared["mixed"] = min(tried.cost, compared.get("mixed", tried.cost))
        best = min(best, tried, key=_Tried.rank)
    return _answer(best, compared, started)


def _naming(report: Sink | None, compared_plan: str) -> Sink | None:
    if report is None:
        return None

    def named(found: Improvement) -> None:
        report(replace(found, compared_plan=compared_plan))

    return named
