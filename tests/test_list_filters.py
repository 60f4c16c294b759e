"""The filters the README lists for each list, each shown to keep what it names and leave out
the rest: offers and requests by status and day, materials by sub-chapter and hazard, route
plans newest first and by status."""

import httpx

from tests.conftest import OrgFactory, offer_body, plan_body, request_body


async def _ids(
    client: httpx.AsyncClient, path: str, headers: dict[str, str], **params: str
) -> list:
    answer = await client.get(path, params=params, headers=headers)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    return [item["id"] for item in body.get("features", body.get("items", []))]


async def test_offers_and_requests_by_status_and_day(
    client: httpx.AsyncClient, make_org: OrgFactory
) -> None:
    org = await make_org()
    early = {"available_from": "2027-01-01", "available_until": "2027-01-31"}
    late = {"available_from": "2027-03-01", "available_until": "2027-03-31"}
    offers = {}
    for name, window in (("early", early), ("late", late), ("closed", early)):
        posted = await client.post("/v1/offers", json=offer_body(**window), headers=org.headers)
        offers[name] = posted.json()["id"]
    closed = await client.patch(
        f"/v1/offers/{offers['closed']}", json={"status": "closed"}, headers=org.headers
    )
    assert closed.status_code == 200, closed.text
    mine = {"mine": "true"}
    assert set(await _ids(client, "/v1/offers", org.headers, **mine, status="open")) == {
        offers["early"],
        offers["late"],
    }
    assert await _ids(client, "/v1/offers", org.headers, **mine, status="closed") == [
        offers["closed"]
    ]
    assert await _ids(
        client, "/v1/offers", org.headers, **mine, status="open", available_on="2027-03-15"
    ) == [offers["late"]]

    needs = {}
    for name, window in (
        ("january", {"needed_from": "2027-01-01", "needed_by": "2027-01-31"}),
        ("march", {"needed_from": "2027-03-01", "needed_by": "2027-03-31"}),
    ):
        posted = await client.post("/v1/requests", json=request_body(**window), headers=org.headers)
        assert posted.status_code == 201, posted.text
        needs[name] = posted.json()["id"]
    on_day = await _ids(client, "/v1/requests", org.headers, **mine, needed_on="2027-01-15")
    assert on_day == [needs["january"]]
    assert set(await _ids(client, "/v1/requests", org.headers, **mine, status="open")) == set(
        needs.values()
    )
    assert await _ids(client, "/v1/requests", org.headers, **mine, status="closed") == []


async def test_materials_by_sub_chapter_and_hazard(
    client: httpx.AsyncClient, make_org: OrgFactory
) -> None:
    org = await make_org()

    async def codes(**params: str) -> list[dict]:
        answer = await client.get(
            "/v1/materials", params={"limit": "500", **params}, headers=org.headers
        )
        assert answer.status_code == 200, answer.text
        items: list[dict] = answer.json()["items"]
        return items

    soil = await codes(subchapter="1705")
    assert soil and all(m["code"].startswith("1705") for m in soil)
    assert {"170503", "170504"} <= {m["code"] for m in soil}
    hazardous = await codes(subchapter="1705", hazardous="true")
    harmless = await codes(subchapter="1705", hazardous="false")
    assert {m["code"] for m in hazardous} == {"170503", "170505", "170507"}
    assert all(m["hazardous"] for m in hazardous) and not any(m["hazardous"] for m in harmless)
    assert len(hazardous) + len(harmless) == len(soil)


async def test_route_plans_newest_first_and_by_status(
    client: httpx.AsyncClient, make_org: OrgFactory
) -> None:
    carrier = await make_org("carrier")
    # No worker runs here: the plans stay queued, unless cancelled.
    made = []
    for _ in range(2):
        started = await client.post("/v1/route-plans", json=plan_body(1), headers=carrier.headers)
        assert started.status_code == 202, started.text
        made.append(started.json()["id"])
    cancelled = await client.post(f"/v1/route-plans/{made[0]}/cancel", headers=carrier.headers)
    assert cancelled.status_code == 200, cancelled.text
    assert await _ids(client, "/v1/route-plans", carrier.headers) == made[::-1]
    assert await _ids(client, "/v1/route-plans", carrier.headers, status="queued") == [made[1]]
    assert await _ids(client, "/v1/route-plans", carrier.headers, status="cancelled") == [made[0]]
    other = await make_org("carrier")
    assert await _ids(client, "/v1/route-plans", other.headers) == []
    # Left queued, it would be planned by the next test's worker.
    done_with = await client.post(f"/v1/route-plans/{made[1]}/cancel", headers=carrier.headers)
    assert done_with.status_code == 200, done_with.text
