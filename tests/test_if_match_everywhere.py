"""Every route that takes If-Match, as the OpenAPI document lists them (a new one fails this
test until it is here), answers 412 to a tag that is not the current one and changes nothing:
the row reads the same, with the same ETag."""

import json
from dataclasses import dataclass
from typing import Any

import httpx

from app.settings import PROJECT_ROOT
from tests.conftest import RECY_K, Org, OrgFactory, assert_problem, point
from tests.test_fleet_endpoints import shipment_body
from tests.test_matches import _offer, _propose, _request

NOT_CURRENT = '"999"'


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    by: Org
    body: dict[str, Any] | None = None
    # Where the row it changes is read, when not at `path`.
    read_at: str | None = None


def _routes_taking_if_match() -> set[str]:
    document = json.loads((PROJECT_ROOT / "openapi" / "openapi.json").read_text())
    return {
        operation["operationId"]
        for methods in document["paths"].values()
        for operation in methods.values()
        if isinstance(operation, dict)
        and any(p.get("name") == "If-Match" for p in operation.get("parameters", []))
    }


async def _made(client: httpx.AsyncClient, org: Org, path: str, body: dict[str, Any]) -> str:
    response = await client.post(path, json=body, headers=org.headers)
    assert response.status_code == 201, response.text
    return str(response.headers["location"])


async def _calls(client: httpx.AsyncClient, make_org: OrgFactory) -> dict[str, Call]:
    supplier = await make_org("supplier", "hub_operator")
    consumer = await make_org("consumer")
    carrier = await make_org("carrier")
    site = await _made(
        client, supplier, "/v1/sites", {"name": "Dépôt", "kind": "yard", "location": point(RECY_K)}
    )
    hub = site.replace("/v1/sites/", "/v1/hubs/")
    put = await client.put(hub, json={"capacity": {"t": 10}}, headers=supplier.headers)
    assert put.status_code == 200, put.text
    offer = await _offer(client, supplier, 12)
    request = await _request(client, consumer, 4)
    proposed = (await _propose(client, consumer, offer, request, 2)).json()["id"]
    # One proposal waits per pair: the accepted match is another request's.
    other_request = await _request(client, consumer, 4)
    accepted = (await _propose(client, consumer, offer, other_request, 2)).json()["id"]
    for side in (consumer, supplier):
        answer = await client.post(f"/v1/matches/{accepted}/accept", headers=side.headers)
        assert answer.status_code == 200, answer.text
    vehicle = await _made(
        client,
        carrier,
        "/v1/vehicles",
        {"name": "Bike", "type": "cargo_bike", "start": point(RECY_K)},
    )
    shipment = await _made(client, carrier, "/v1/shipments", shipment_body())
    offer_path, request_path = f"/v1/offers/{offer['id']}", f"/v1/requests/{request['id']}"
    return {
        "update_site": Call("PATCH", site, supplier, {"name": "Stale"}),
        "delete_site": Call("DELETE", site, supplier),
        "set_hub": Call("PUT", hub, supplier, {"capacity": {"t": 99}}),
        "update_offer": Call("PATCH", offer_path, supplier, {"title": "Stale"}),
        "delete_offer": Call("DELETE", offer_path, supplier),
        "update_request": Call("PATCH", request_path, consumer, {"title": "Stale"}),
        "delete_request": Call("DELETE", request_path, consumer),
        "accept_match": Call(
            "POST", f"/v1/matches/{proposed}/accept", supplier, read_at=f"/v1/matches/{proposed}"
        ),
        "reject_match": Call(
            "POST", f"/v1/matches/{proposed}/reject", supplier, read_at=f"/v1/matches/{proposed}"
        ),
        "fulfil_match": Call(
            "POST", f"/v1/matches/{accepted}/fulfil", supplier, read_at=f"/v1/matches/{accepted}"
        ),
        "update_vehicle": Call("PATCH", vehicle, carrier, {"name": "Stale"}),
        "delete_vehicle": Call("DELETE", vehicle, carrier),
        "update_shipment": Call("PATCH", shipment, carrier, {"load_kg": 11}),
        "delete_shipment": Call("DELETE", shipment, carrier),
    }


async def test_every_route_taking_if_match_refuses_a_tag_not_current_and_changes_nothing(
    client: httpx.AsyncClient, make_org: OrgFactory
) -> None:
    calls = await _calls(client, make_org)
    assert set(calls) == _routes_taking_if_match()
    for name, call in calls.items():
        read_at = call.read_at or call.path
        before = await client.get(read_at, headers=call.by.headers)
        assert before.status_code == 200 and before.headers["etag"] != NOT_CURRENT, name
        response = await client.request(
            call.method,
            call.path,
            json=call.body,
            headers={**call.by.headers, "If-Match": NOT_CURRENT},
        )
        problem = assert_problem(response, 412)
        assert problem["current_etag"] == before.headers["etag"], (name, problem)
        after = await client.get(read_at, headers=call.by.headers)
        assert after.headers["etag"] == before.headers["etag"], name
        assert after.json() == before.json(), name
