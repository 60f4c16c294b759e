"""Tenant isolation, optimistic concurrency with If-Match, idempotency, and updates."""

import uuid

import httpx

from tests.conftest import (
    GRAND_PLACE,
    RECY_K,
    OrgFactory,
    assert_problem,
    offer_body,
    point,
    request_body,
)
from tests.overlap import overlapping


async def test_another_organization_cannot_change_or_delete_rows(
    client: httpx.AsyncClient, make_org: OrgFactory
) -> None:
    owner, intruder = await make_org(), await make_org()
    site = (
        await client.post(
            "/v1/sites",
            json={"name": "Mine", "kind": "yard", "location": point(RECY_K)},
            headers=owner.headers,
        )
    ).json()
    offer = (
        await client.post(
            "/v1/offers",
            json=offer_body(site_id=site["id"], location=None, notes="secret"),
            headers=owner.headers,
        )
    ).json()
    request = (
        await client.post("/v1/requests", json=request_body(notes="secret"), headers=owner.headers)
    ).json()

    # Sites are private: to others they do not exist.
    assert_problem(await client.get(f"/v1/sites/{site['id']}", headers=intruder.headers), 404)
    assert_problem(
        await client.patch(
            f"/v1/sites/{site['id']}", json={"name": "Hacked"}, headers=intruder.headers
        ),
        404,
    )
    assert_problem(await client.delete(f"/v1/sites/{site['id']}", headers=intruder.headers), 404)
    listed = await client.get("/v1/sites", headers=intruder.headers)
    assert site["id"] not in {f["id"] for f in listed.json()["features"]}

    # Offers and requests are public to read, but only their owner changes them.
    for path in (f"/v1/offers/{offer['id']}", f"/v1/requests/{request['id']}"):
        assert_problem(
            await client.patch(path, json={"title": "Hacked"}, headers=intruder.headers), 403
        )
        assert_problem(await client.delete(path, headers=intruder.headers), 403)
        seen_by_owner = (await client.get(path, headers=owner.headers)).json()
        assert seen_by_owner["title"] != "Hacked" and seen_by_owner["version"] == 1
        assert seen_by_owner["notes"] == "secret"
        seen_by_other = await client.get(path, headers=intruder.headers)
        assert seen_by_other.status_code == 200
        assert "notes" not in seen_by_other.json() and "site_id" not in seen_by_other.json()

    listed_offers = await client.get(
        "/v1/offers", params={"near": "4.3211,50.8413", "radius_km": 1}, headers=intruder.headers
    )
    theirs = next(f for f in listed_offers.json()["features"] if f["id"] == offer["id"])
    assert "notes" not in theirs["properties"]


async def test_stale_if_match_answers_412_and_changes_nothing(
    client: httpx.AsyncClient, make_org: OrgFactory
) -> None:
    org = await make_org()
    created = await client.post("/v1/offers", json=offer_body(), headers=org.headers)
    path, etag = created.headers["location"], created.headers["etag"]
    assert etag == '"1"'

    first = await client.patch(
        path, json={"title": "Clean soil"}, headers={**org.headers, "If-Match": etag}
    )
    assert first.status_code == 200 and first.headers["etag"] == '"2"'
    stale = await client.patch(
        path, json={"title": "Dirty soil"}, headers={**org.headers, "If-Match": etag}
    )
    body = assert_problem(stale, 412)
    assert body["current_etag"] == '"2"'
    assert_problem(await client.delete(path, headers={**org.headers, "If-Match": etag}), 412)
    now = await client.get(path, headers=org.headers)
    assert now.json()["title"] == "Clean soil" and now.headers["etag"] == '"2"'

    assert (
        await client.delete(path, headers={**org.headers, "If-Match": '"2"'})
    ).status_code == 204
    assert_problem(await client.get(path, headers=org.headers), 404)


async def test_patch_keeps_the_rules_of_a_create(
    client: httpx.AsyncClient, make_org: OrgFactory
) -> None:
    org = await make_org()
    path = (await client.post("/v1/offers", json=offer_body(), headers=org.headers)).headers[
        "location"
    ]
    assert_problem(
        await client.patch(path, json={"available_until": "2026-11-01"}, headers=org.headers),
        422,
        "available_until",
        "window_ordered",
    )
    assert_problem(
        await client.patch(path, json={"title": None}, headers=org.headers),
        422,
        "title",
        "string_type",
    )
    assert_problem(
        await client.patch(path, json={"material": "000000"}, headers=org.headers),
        422,
        "material",
        "ewc_code_exists",
    )
    assert_problem(
        await client.patch(path, json={"status": "reserved"}, headers=org.headers),
        422,
        "status",
        "settable_status",
    )
    assert (await client.get(path, headers=org.headers)).json()["version"] == 1

    changed = await client.patch(
        path, json={"quantity": {"value": 3, "unit": "m3"}, "mass_kg": 4800}, headers=org.headers
    )
    assert changed.status_code == 200, changed.text
    offer = changed.json()
    assert offer["quantity"] == {"value": 3.0, "unit": "m3"} and offer["remaining"] == {
        "value": 3.0,
        "unit": "m3",
    }
    assert offer["volume_m3"] == 3.0 and offer["mass_kg"] == 4800.0

    moved = await client.patch(
        path, json={"location": point(GRAND_PLACE), "status": "closed"}, headers=org.headers
    )
    assert (
        moved.json()["location"]["coordinates"] == GRAND_PLACE
        and moved.json()["status"] == "closed"
    )


async def test_site_patch_and_delete(client: httpx.AsyncClient, make_org: OrgFactory) -> None:
    org = await make_org()
    site = await client.post(
        "/v1/sites",
        json={"name": "Depot", "kind": "hub", "location": point(RECY_K)},
        headers=org.headers,
    )
    path = site.headers["location"]
    renamed = await client.patch(
        path, json={"name": "Depot Nord", "access_notes": "bikes only"}, headers=org.headers
    )
    assert renamed.json()["name"] == "Depot Nord" and renamed.json()["access_notes"] == "bikes only"
    assert renamed.json()["location"]["coordinates"] == RECY_K

    await client.post(
        "/v1/offers", json=offer_body(site_id=site.json()["id"], location=None), headers=org.headers
    )
    body = assert_problem(await client.delete(path, headers=org.headers), 409)
    assert "site" in body["detail"]
    assert (await client.get(path, headers=org.headers)).status_code == 200


async def test_idempotency_key_replays_and_refuses_another_body(
    client: httpx.AsyncClient, make_org: OrgFactory
) -> None:
    org = await make_org()
    key = {"Idempotency-Key": str(uuid.uuid4())}
    first = await client.post("/v1/offers", json=offer_body(), headers={**org.headers, **key})
    again = await client.post("/v1/offers", json=offer_body(), headers={**org.headers, **key})
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again.headers["location"] == first.headers["location"]
    assert again.headers["idempotent-replayed"] == "true"
    mine = await client.get("/v1/offers", params={"mine": "true"}, headers=org.headers)
    assert mine.json()["numberReturned"] == 1

    other_body = await client.post(
        "/v1/offers", json=offer_body(title="Other"), headers={**org.headers, **key}
    )
    assert_problem(other_body, 409)
    assert (await client.get("/v1/offers", params={"mine": "true"}, headers=org.headers)).json()[
        "numberReturned"
    ] == 1

    # Keys belong to one organization: another may use the same key for its own request.
    other_org = await make_org()
    theirs = await client.post(
        "/v1/offers", json=offer_body(), headers={**other_org.headers, **key}
    )
    assert theirs.status_code == 201 and theirs.json()["id"] != first.json()["id"]


async def test_concurrent_requests_with_one_key_create_one_row(
    client: httpx.AsyncClient, make_org: OrgFactory, database_url: str
) -> None:
    org = await make_org()
    headers = {**org.headers, "Idempotency-Key": "same-key"}
    # The requests meet where each claims the key: its insert into idempotency_keys. The
    # test's own transaction inserts that key first, so that the eight wait on it together;
    # once it is rolled back, one claims the key and the others find it claimed.
    responses = await overlapping(
        database_url,
        "INSERT INTO idempotency_keys (scope, key, method, path, request_hash, "
        "secret_withheld, expires_at, locked_until) "
        "VALUES ($1, 'same-key', 'POST', '/v1/requests', '', false, now(), now())",
        org.id,
        requests=[
            client.post("/v1/requests", json=request_body(), headers=headers) for _ in range(8)
        ],
    )
    statuses = sorted(r.status_code for r in responses)
    assert set(statuses) <= {201, 409} and 201 in statuses
    ids = {r.json()["id"] for r in responses if r.status_code == 201}
    assert len(ids) == 1
    mine = await client.get("/v1/requests", params={"mine": "true"}, headers=org.headers)
    assert mine.json()["numberReturned"] == 1


async def test_a_refused_request_is_answered_the_same_on_retry(
    client: httpx.AsyncClient, make_org: OrgFactory
) -> None:
    org = await make_org()
    headers = {**org.headers, "Idempotency-Key": "retry-me"}
    invalid = await client.post("/v1/offers", json=offer_body(material="999999"), headers=headers)
    assert_problem(invalid, 422)
    # The stored answer to the same body is the same 422, and another body is refused.
    assert (
        await client.post("/v1/offers", json=offer_body(material="999999"), headers=headers)
    ).status_code == 422
    assert_problem(await client.post("/v1/offers", json=offer_body(), headers=headers), 409)
