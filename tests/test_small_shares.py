"""Shares too small for the three decimals quantities are kept to: never a failed run, never a
match of nothing."""

from datetime import date

import httpx
import pytest

from matching.allocation import Arc, Demand, Supply, allocate_offers_to_requests
from matching.candidates import CandidatePair
from matching.scoring import smallest_matchable_quantity
from tests.conftest import OrgFactory, WorkerRun, assert_problem, offer_body, point, request_body

ANDERLECHT = (4.3080, 50.8360)
EVERE = (4.4000, 50.8700)
AVAILABLE = {"available_from": "2027-09-01", "available_until": "2027-09-30"}
NEEDED = {"needed_from": "2027-09-01", "needed_by": "2027-09-30"}


def _pair(
    offer: tuple[float, str, float | None], request: tuple[float, str, float | None]
) -> CandidatePair:
    """A pair of an offer and a request of (quantity, unit, mass_kg), nothing remaining taken."""
    (offer_value, offer_unit, offer_mass), (request_value, request_unit, request_mass) = (
        offer,
        request,
    )
    return CandidatePair(
        offer_id="o",
        request_id="r",
        offer_organization_id="a",
        request_organization_id="b",
        offer_material="020104",
        request_material="0201",
        offer_quantity=offer_value,
        offer_remaining=offer_value,
        offer_unit=offer_unit,  # type: ignore[arg-type]
        offer_mass_kg=offer_mass,
        offer_min_lot=None,
        request_quantity=request_value,
        request_remaining=request_value,
        request_unit=request_unit,  # type: ignore[arg-type]
        request_mass_kg=request_mass,
        condition="A",
        min_condition="C",
        price_per_unit=None,
        max_price_per_unit=None,
        available_from=date(2027, 9, 1),
        available_until=None,
        needed_from=date(2027, 9, 1),
        needed_by=date(2027, 9, 30),
        max_distance_km=10,
        distance_m=1000,
    )


@pytest.mark.parametrize(
    ("offered", "requested", "smallest"),
    [
        # A thousandth of a 20 t piece is 20 kg.
        ((1, "piece", 20_000), (5, "kg", None), 20.0),
        # A request in pieces of 0.1 kg served from tonnes: 10 pieces make a kilogram.
        ((10, "t", None), (1000, "piece", 100), 10.0),
        # A request in pieces of 20 t: a thousandth of one piece, whatever the offer's unit.
        ((5, "kg", None), (1, "piece", 20_000), 0.001),
        ((3, "t", None), (2, "t", None), 0.001),
        ((3, "t", None), (500, "kg", None), 1.0),
        ((300, "kg", None), (0.5, "t", None), 0.001),
        # Pieces of 1/3 kg: a thousandth of a piece would take 1/3 g of the offer, so 3 of them.
        ((1, "kg", None), (3, "piece", 1), 0.003),
        ((3, "piece", 1), (1, "kg", None), 0.001),
        ((7, "piece", 1), (1, "t", None), 0.001),
        # Pieces of 7/3 kg: 1 g of the request is 0.00043 piece, rounded up to three decimals.
        ((3, "piece", 7), (1, "kg", None), 0.003),
    ],
)
def test_the_smallest_matchable_quantity_takes_a_thousandth_of_each_unit(
    offered: tuple[float, str, float | None],
    requested: tuple[float, str, float | None],
    smallest: float,
) -> None:
    assert smallest_matchable_quantity(_pair(offered, requested)) == smallest


def test_the_allocation_never_loads_an_arc_below_its_smallest_quantity() -> None:
    # A has 1,005 kg: 1,000 go to the nearer r1, and the 5 kg left over would go to r2, whose
    # arc cannot carry less than 20 kg.
    supplies = [Supply("A", 1_005)]
    demands = [Demand("r1", 1_000), Demand("r2", 1_000)]
    arcs = [Arc("A", "r1", 1.0), Arc("A", "r2", 2.0, min_kg=20)]
    assert [
        (a.demand_id, a.mass_kg)
        for a in allocate_offers_to_requests(supplies, demands, arcs).allocations
    ] == [("r1", 1_000.0)]
    # An arc whose whole capacity is below its smallest quantity is not used at all.
    lone = allocate_offers_to_requests(
        [Supply("A", 20_000)], [Demand("r", 5)], [Arc("A", "r", 1.0, min_kg=20)]
    )
    assert lone.allocations == []


def _near(km_east: float, origin: tuple[float, float] = ANDERLECHT) -> dict[str, object]:
    return point([round(origin[0] + km_east * 0.014184, 6), origin[1]])


async def test_a_share_too_small_for_the_offer_never_stops_a_run(
    client: httpx.AsyncClient, run_worker: WorkerRun, make_org: OrgFactory
) -> None:
    supplier, consumer, region = (
        await make_org("supplier"),
        await make_org("consumer"),
        await make_org("admin"),
    )

    async def post(path: str, org_headers: dict[str, str], body: dict[str, object]) -> str:
        response = await client.post(path, json=body, headers=org_headers)
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    # One 20 t piece (a steel tank, say) of plastics, and two requests for plastics: 5 kg is
    # less than a thousandth of the piece, 30 kg is not.
    piece = await post(
        "/v1/offers",
        supplier.headers,
        offer_body(
            material="020104",
            location=_near(0),
            quantity={"value": 1, "unit": "piece"},
            mass_kg=20_000,
            **AVAILABLE,
        ),
    )
    tiny, small = [
        await post(
            "/v1/requests",
            consumer.headers,
            request_body(
                material="020104",
                location=_near(km),
                quantity={"value": kg, "unit": "kg"},
                max_distance_km=5,
                **NEEDED,
            ),
        )
        for km, kg in ((0.5, 5), (1.0, 30))
    ]
    # An ordinary pair in the same family: waste metal, in tonnes.
    metal = await post(
        "/v1/offers",
        supplier.headers,
        offer_body(
            material="020110",
            location=_near(0.2),
            quantity={"value": 2, "unit": "t"},
            **AVAILABLE,
        ),
    )
    metal_request = await post(
        "/v1/requests",
        consumer.headers,
        request_body(
            material="020110",
            location=_near(0.7),
            quantity={"value": 1.5, "unit": "t"},
            max_distance_km=5,
            **NEEDED,
        ),
    )

    # The piece is not a candidate of the 5 kg request, which it could never be matched to;
    # it is one of the 30 kg request's.
    for request_id, expected in ((tiny, []), (small, [piece])):
        listed = await client.get(f"/v1/requests/{request_id}/candidates", headers=consumer.headers)
        assert [c["offer"]["id"] for c in listed.json()["items"]] == expected
    for_piece = await client.get(f"/v1/offers/{piece}/candidates", headers=supplier.headers)
    assert [c["request"]["id"] for c in for_piece.json()["items"]] == [small]

    started = await client.post(
        "/v1/matching/runs",
        json={"material": "0201", "near": list(ANDERLECHT), "radius_km": 5},
        headers=region.headers,
    )
    assert started.status_code == 202, started.text
    await run_worker()

    run = (await client.get(started.headers["location"], headers=region.headers)).json()
    assert run["status"] == "done", run
    pairs = {(m["offer_id"], m["request_id"]): m for m in run["matches"]}
    assert set(pairs) == {(metal, metal_request), (piece, small)}
    assert pairs[(metal, metal_request)]["quantity"] == {"value": 1.5, "unit": "t"}
    assert pairs[(piece, small)]["quantity"] == {"value": 30.0, "unit": "kg"}
    assert pairs[(piece, small)]["offer_quantity"]["unit"] == "piece"
    totals = run["totals"]
    assert totals["pairs_too_small"] == 1
    assert totals["matches"] == 2 and totals["matched_kg"] == 1_530
    assert totals["candidate_graph"] == {"offers": 2, "requests": 2, "arcs": 2}

    # No match of nothing, on either side.
    for org in (supplier, consumer):
        listed = (await client.get("/v1/matches?limit=100", headers=org.headers)).json()["items"]
        assert listed and all(
            m["quantity"]["value"] > 0 and m["offer_quantity"]["value"] > 0 for m in listed
        )


async def test_a_proposal_too_small_for_the_offer_names_the_smallest_quantity(
    client: httpx.AsyncClient, make_org: OrgFactory
) -> None:
    supplier, consumer = await make_org("supplier"), await make_org("consumer")
    piece = await client.post(
        "/v1/offers",
        json=offer_body(
            material="020104",
            location=_near(0, EVERE),
            quantity={"value": 1, "unit": "piece"},
            mass_kg=20_000,
            **AVAILABLE,
        ),
        headers=supplier.headers,
    )
    tiny, small = [
        (
            await client.post(
                "/v1/requests",
                json=request_body(
                    material="020104",
                    location=_near(0.5, EVERE),
                    quantity={"value": kg, "unit": "kg"},
                    max_distance_km=5,
                    **NEEDED,
                ),
                headers=consumer.headers,
            )
        ).json()["id"]
        for kg in (5, 30)
    ]

    async def propose(request_id: str, quantity: dict[str, object] | None) -> httpx.Response:
        body = {"offer_id": piece.json()["id"], "request_id": request_id}
        return await client.post(
            "/v1/matches",
            json=body if quantity is None else {**body, "quantity": quantity},
            headers=consumer.headers,
        )

    # All of the 5 kg request, the default, is too little of the piece ever to be matched.
    for request_id, quantity in (
        (tiny, None),
        (small, {"value": 5, "unit": "kg"}),
        (small, {"value": 0.019, "unit": "t"}),
    ):
        problem = assert_problem(
            await propose(request_id, quantity), 422, "quantity.value", "at_least_matchable"
        )
        assert "At least 20 kg" in problem["detail"]
    proposed = await propose(small, {"value": 20, "unit": "kg"})
    assert proposed.status_code == 201, proposed.text
    assert proposed.json()["offer_quantity"] == {"value": 0.001, "unit": "piece"}
