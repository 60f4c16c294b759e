"""What an integrator expects to find: the list of one's matching runs, the admin's list of
organizations, and a `near` given the wrong way round named as such instead of an empty list."""

from typing import Any

import httpx
import pytest

from tests.conftest import (
    ADMIN_TOKEN,
    GRAND_PLACE,
    OrgFactory,
    WorkerRun,
    assert_problem,
    offer_body,
    point,
    request_body,
)

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
# A run over an area with nothing in it: the worker is done with it at once.
EMPTY_RUN = {"material": "1708", "near": [4.4, 50.8], "radius_km": 0.1}


def _next(page: dict[str, Any]) -> str | None:
    return next((link["href"] for link in page["links"] if link["rel"] == "next"), None)


async def test_an_organization_lists_its_own_matching_runs_newest_first(
    client: httpx.AsyncClient, make_org: OrgFactory, run_worker: WorkerRun
) -> None:
    region, other_region, company = (
        await make_org("admin"),
        await make_org("admin"),
        await make_org(),
    )
    started = []
    for who in (region, region, other_region):
        answer = await client.post("/v1/matching/runs", json=EMPTY_RUN, headers=who.headers)
        assert answer.status_code == 202, answer.text
        started.append(answer.json()["id"])
    first, second, theirs = started

    listed = await client.get("/v1/matching/runs", headers=region.headers)
    assert listed.status_code == 200
    assert [run["id"] for run in listed.json()["items"]] == [second, first]
    assert {run["status"] for run in listed.json()["items"]} == {"queued"}
    assert all("matches" not in run for run in listed.json()["items"])
    others = await client.get("/v1/matching/runs", headers=other_region.headers)
    assert [run["id"] for run in others.json()["items"]] == [theirs]
    none = await client.get("/v1/matching/runs", headers=company.headers)
    assert none.status_code == 200 and none.json() == {"items": [], "links": []}

    # One a page: the `next` link leads to the older run, and the pages end there.
    page = (await client.get("/v1/matching/runs?limit=1", headers=region.headers)).json()
    assert [run["id"] for run in page["items"]] == [second]
    href = _next(page)
    assert href is not None
    page = (await client.get(href, headers=region.headers)).json()
    assert [run["id"] for run in page["items"]] == [first]
    href = _next(page)
    assert href is not None
    assert (await client.get(href, headers=region.headers)).json()["items"] == []

    await run_worker()
    done = await client.get("/v1/matching/runs?status=done", headers=region.headers)
    assert [run["id"] for run in done.json()["items"]] == [second, first]
    assert all(run["totals"]["matches"] == 0 for run in done.json()["items"])
    queued = await client.get("/v1/matching/runs?status=queued", headers=region.headers)
    assert queued.json()["items"] == []
    assert_problem(
        await client.get("/v1/matching/runs?status=finished", headers=region.headers),
        422,
        "status",
        "enum",
    )
    assert_problem(await client.get("/v1/matching/runs"), 401)


async def test_the_admin_token_lists_every_organization_newest_first(
    client: httpx.AsyncClient, make_org: OrgFactory
) -> None:
    older = await make_org("supplier", name="Older organization")
    newer = await make_org("carrier", "hub_operator", name="Newer organization")

    page = await client.get("/v1/organizations?limit=2", headers=ADMIN)
    assert page.status_code == 200, page.text
    items = page.json()["items"]
    assert [o["id"] for o in items] == [newer.id, older.id]
    assert items[0] == {
        "id": newer.id,
        "name": "Newer organization",
        "roles": ["carrier", "hub_operator"],
        "created_at": items[0]["created_at"],
    }
    href = _next(page.json())
    assert href is not None
    rest = (await client.get(href, headers=ADMIN)).json()["items"]
    assert rest and not {newer.id, older.id} & {o["id"] for o in rest}
    assert all(set(o) == {"id", "name", "roles", "created_at"} for o in rest)

    # An organization's key, even with the admin role, is not the admin token.
    region = await make_org("admin")
    for key in (older, region):
        assert_problem(await client.get("/v1/organizations", headers=key.headers), 403)
    assert_problem(await client.get("/v1/organizations"), 401)
    assert_problem(
        await client.get("/v1/organizations?limit=501", headers=ADMIN),
        422,
        "limit",
        "less_than_equal",
    )


@pytest.mark.parametrize("path", ["/v1/offers", "/v1/requests", "/v1/sites"])
async def test_a_near_given_as_lat_lon_is_named_with_the_order_meant(
    client: httpx.AsyncClient, make_org: OrgFactory, path: str
) -> None:
    org = await make_org()
    lon, lat = GRAND_PLACE
    site = {"name": "Atelier", "kind": "production", "location": point(GRAND_PLACE)}
    for body, listing in (
        (offer_body(), "/v1/offers"),
        (request_body(), "/v1/requests"),
        (site, "/v1/sites"),
    ):
        assert (await client.post(listing, json=body, headers=org.headers)).status_code == 201

    swapped = await client.get(path, params={"near": f"{lat},{lon}"}, headers=org.headers)
    problem = assert_problem(swapped, 422, "near", "lon_lat_order")
    assert problem["errors"][0]["location"] == "query"
    assert problem["errors"][0]["message"] == (f"near is lon,lat: did you mean near={lon},{lat}?")
    with_radius = await client.get(
        path, params={"near": "50.85,4.35", "radius_km": 5}, headers=org.headers
    )
    assert_problem(with_radius, 422, "near", "lon_lat_order")
    assert "near=4.35,50.85?" in with_radius.json()["detail"]

    right = await client.get(
        path, params={"near": f"{lon},{lat}", "radius_km": 5}, headers=org.headers
    )
    assert right.status_code == 200
    assert right.json()["features"], "what was just posted lies there"
    # Points that no order puts in the region stay what they say: far away, nothing near.
    for far in ("2.3522,48.8566", "48.8566,2.3522"):
        answer = await client.get(path, params={"near": far, "radius_km": 1}, headers=org.headers)
        assert answer.status_code == 200 and answer.json()["features"] == []
