"""Ranked candidates through the API: every compatibility rule, the score and its parts."""

import httpx
import pytest

from tests.conftest import OrgFactory, assert_problem, offer_body, point, request_body

GRAND_PLACE = (4.3525, 50.8467)
WINDOW = {"available_from": "2027-03-01", "available_until": "2027-03-31"}


def km_east(km: float) -> dict[str, object]:
    return point([round(GRAND_PLACE[0] + km * 0.014184, 6), GRAND_PLACE[1]])


async def test_candidates_for_a_request_follow_every_rule(
    client: httpx.AsyncClient, make_org: OrgFactory
) -> None:
    supplier, consumer = await make_org("supplier"), await make_org("consumer", "supplier")

    async def offer(title: str, **fields: object) -> str:
        body = offer_body(
            title=title,
            **{"material": "030105", "condition": "A", "location": km_east(1), **WINDOW, **fields},
        )
        response = await client.post("/v1/offers", json=body, headers=supplier.headers)
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    near_good = await offer("near and good", quantity={"value": 10, "unit": "t"})
    far_ok = await offer(
        "further, needs work",
        material="030101",
        condition="B",
        location=km_east(6),
        quantity={"value": 2, "unit": "t"},
    )
    await offer("too far", location=km_east(12))
    hazardous = await offer("hazardous sawdust", material="030104")
    await offer("other family", material="030301")
    await offer("recycling only", condition="C")
    await offer("later", available_from="2027-05-01", available_until="2027-05-31")
    closed = await offer("closed")
    await client.patch(f"/v1/offers/{closed}", json={"status": "closed"}, headers=supplier.headers)
    own = await client.post(
        "/v1/offers",
        json=offer_body(material="030105", location=km_east(0.5), **WINDOW),
        headers=consumer.headers,
    )
    assert own.status_code == 201

    request = await client.post(
        "/v1/requests",
        json=request_body(
            material="0301",
            location=point(list(GRAND_PLACE)),
            quantity={"value": 4, "unit": "t"},
            needed_from="2027-03-01",
            needed_by="2027-03-31",
            max_distance_km=10,
            min_condition="B",
        ),
        headers=consumer.headers,
    )
    candidates = await client.get(
        f"/v1/requests/{request.json()['id']}/candidates", headers=consumer.headers
    )
    assert candidates.status_code == 200, candidates.text
    items = candidates.json()["items"]
    assert [c["offer"]["id"] for c in items] == [near_good, far_ok]

    best, second = items
    assert best["quantity"] == {"value": 4.0, "unit": "t"} and best["mass_kg"] == 4000.0
    assert second["quantity"] == {"value": 2.0, "unit": "t"}
    assert (
        best["distance_m"] == pytest.approx(1000, abs=15)
        and best["distance_kind"] == "straight_line"
    )
    assert best["co2_kg"] == pytest.approx(1.0 * 1.3 * 0.27, rel=0.02)
    parts = best["score"]
    assert parts["quantity"] == 1.0 and second["score"]["quantity"] == 0.5
    assert parts["condition"] == 1.0 and second["score"]["condition"] == pytest.approx(
        2 / 3, abs=1e-3
    )
    assert parts["time"] == 1.0 and parts["distance"] == pytest.approx(0.9, abs=0.01)
    total = sum(
        parts["weights"][k] * parts[k]
        for k in ("distance", "quantity", "time", "condition", "price")
    )
    assert parts["total"] == pytest.approx(total, abs=1e-3)
    assert best["score"]["total"] > second["score"]["total"]
    assert "notes" not in best["offer"]

    # Hazardous material only for a request that names that very code.
    exact = await client.post(
        "/v1/requests",
        json=request_body(
            material="030104",
            location=point(list(GRAND_PLACE)),
            needed_from="2027-03-01",
            needed_by="2027-03-31",
        ),
        headers=consumer.headers,
    )
    exact_items = (
        await client.get(f"/v1/requests/{exact.json()['id']}/candidates", headers=consumer.headers)
    ).json()["items"]
    assert [c["offer"]["id"] for c in exact_items] == [hazardous]

    # The other way round: the requests an offer could serve.
    for_offer = await client.get(f"/v1/offers/{near_good}/candidates", headers=supplier.headers)
    assert [c["request"]["id"] for c in for_offer.json()["items"]] == [request.json()["id"]]
    assert for_offer.json()["items"][0]["quantity"] == {"value": 4.0, "unit": "t"}


async def test_candidates_compare_units_through_mass(
    client: httpx.AsyncClient, make_org: OrgFactory
) -> None:
    supplier, consumer = await make_org("supplier"), await make_org("consumer")
    # 30 doors of 25 kg each against a need of 0.5 t.
    doors = await client.post(
        "/v1/offers",
        json=offer_body(
            material="030199",
            location=km_east(2),
            quantity={"value": 30, "unit": "piece"},
            mass_kg=750,
            **WINDOW,
        ),
        headers=supplier.headers,
    )
    assert doors.status_code == 201, doors.text
    request = await client.post(
        "/v1/requests",
        json=request_body(
            material="030199",
            location=point(list(GRAND_PLACE)),
            quantity={"value": 0.5, "unit": "t"},
            needed_from="2027-03-01",
            needed_by="2027-03-31",
        ),
        headers=consumer.headers,
    )
    items = (
        await client.get(
            f"/v1/requests/{request.json()['id']}/candidates", headers=consumer.headers
        )
    ).json()["items"]
    assert len(items) == 1
    assert items[0]["quantity"] == {"value": 0.5, "unit": "t"} and items[0]["mass_kg"] == 500.0


async def test_candidates_of_a_missing_request_answer_404(
    client: httpx.AsyncClient, make_org: OrgFactory
) -> None:
    org = await make_org()
    assert_problem(
        await client.get(
            "/v1/requests/00000000-0000-0000-0000-000000000000/candidates", headers=org.headers
        ),
        404,
    )
    assert_problem(
        await client.get(
            "/v1/offers/00000000-0000-0000-0000-000000000000/candidates", headers=org.headers
        ),
        404,
    )
