"""The proof of the OpenAPI document: a typed Python client generated from openapi/openapi.json
(the file CI checks for drift) by openapi-python-client runs the whole walk-through against
the app served on 127.0.0.1, with no hand-written request code. An organization, a site, an
offer, a request, its candidates, a match accepted by both sides, a route plan run by a real
worker and read back `done`. If the document is wrong, the client is, and this fails."""

import importlib
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from app.main import create_app
from app.settings import PROJECT_ROOT
from app.worker.process import work_until_idle
from tests.conftest import ADMIN_TOKEN, GRAND_PLACE, PLAN_DAY, RECY_K, TOUR_TAXIS, settings_for
from tests.live_server import Served

DOCUMENT = PROJECT_ROOT / "openapi" / "openapi.json"
GENERATOR = Path(sys.executable).parent / "openapi-python-client"
PACKAGE = "boucle_client"
PLAN_DAY_DATE = date.fromisoformat(PLAN_DAY)
LATER_DATE = PLAN_DAY_DATE + timedelta(days=18)


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    folder = tmp_path_factory.mktemp("client")
    subprocess.run(
        [
            str(GENERATOR),
            "generate",
            "--path",
            str(DOCUMENT),
            "--output-path",
            str(folder / PACKAGE),
            "--meta",
            "none",
        ],
        check=True,
        capture_output=True,
    )
    sys.path.insert(0, str(folder))
    yield folder
    sys.path.remove(str(folder))
    for name in [m for m in sys.modules if m == PACKAGE or m.startswith(f"{PACKAGE}.")]:
        del sys.modules[name]
    shutil.rmtree(folder, ignore_errors=True)


def _module(name: str) -> ModuleType:
    return importlib.import_module(f"{PACKAGE}.{name}")


def _call(operation: str, client: Any, expected: int, *args: Any, **kwargs: Any) -> Any:
    """Calls the generated operation `api.<tag>.<operation_id>` and answers its parsed body."""
    response = _module(f"api.{operation}").sync_detailed(*args, client=client, **kwargs)
    assert response.status_code == expected, response.content
    return response.parsed


def test_the_walk_through_runs_with_a_client_generated_from_the_document(
    generated: Path, database_url: str
) -> None:
    models = _module("models")
    client_module = _module("client")
    with Served(create_app(settings_for(database_url))) as served:

        def as_(key: str) -> Any:
            return client_module.AuthenticatedClient(base_url=served.url, token=key, timeout=60)

        def organization(name: str, *roles: str) -> Any:
            body = models.OrganizationCreate(name=name, roles=[models.Role(r) for r in roles])
            return _call("organizations.create_organization", as_(ADMIN_TOKEN), 201, body=body)

        def point(coordinates: list[float]) -> Any:
            return models.PointIn(type_="Point", coordinates=coordinates)

        supplier = organization("Client Bois", "supplier")
        consumer = organization("Client Jardins", "consumer")
        carrier = organization("Client Vélos", "carrier")
        assert supplier.api_key.startswith("bk_")

        site = _call(
            "sites.create_site",
            as_(supplier.api_key),
            201,
            body=models.SiteCreate(
                name="Dépôt", kind=models.SiteKind("yard"), location=point(RECY_K)
            ),
        )
        offer = _call(
            "offers.create_offer",
            as_(supplier.api_key),
            201,
            body=models.OfferCreate(
                site_id=site.id,
                material="170504",
                title="Excavated soil",
                quantity=models.Quantity(value=12, unit=models.Unit("t")),
                condition=models.Condition("B"),
                available_from=PLAN_DAY_DATE,
                available_until=LATER_DATE,
            ),
        )
        request = _call(
            "requests.create_request",
            as_(consumer.api_key),
            201,
            body=models.RequestCreate(
                location=point(GRAND_PLACE),
                material="1705",
                quantity=models.Quantity(value=5, unit=models.Unit("t")),
                needed_from=PLAN_DAY_DATE,
                needed_by=LATER_DATE,
                max_distance_km=15,
            ),
        )
        candidates = _call(
            "matching.request_candidates", as_(consumer.api_key), 200, request.id, limit=50
        )
        assert offer.id in {c.offer.id for c in candidates.items}

        match = _call(
            "matching.propose_match",
            as_(consumer.api_key),
            201,
            body=models.MatchCreate(
                offer_id=offer.id,
                request_id=request.id,
                quantity=models.Quantity(value=5, unit=models.Unit("t")),
            ),
        )
        half = _call("matching.accept_match", as_(consumer.api_key), 200, match.id)
        assert half.status.value == "proposed"
        both = _call("matching.accept_match", as_(supplier.api_key), 200, match.id)
        assert both.status.value == "accepted"

        window = {
            "window_from": f"{PLAN_DAY}T08:00:00+01:00",
            "window_until": f"{PLAN_DAY}T17:00:00+01:00",
        }
        plan = _call(
            "logistics.start_plan",
            as_(carrier.api_key),
            202,
            body=models.RoutePlanCreate(
                date=PLAN_DAY_DATE,
                vehicles=[
                    models.VehicleCreate(
                        name="Bike 1",
                        type_=models.VehicleType("cargo_bike"),
                        start=point(TOUR_TAXIS),
                    )
                ],
                shipments=[
                    models.ShipmentCreate(
                        reference="parcel-1",
                        pickup=models.EndpointIn.from_dict(
                            {"location": point(TOUR_TAXIS).to_dict(), **window}
                        ),
                        delivery=models.EndpointIn.from_dict(
                            {"location": point(GRAND_PLACE).to_dict(), **window}
                        ),
                        load_kg=20,
                    )
                ],
                time_limit_s=1,
            ),
        )
        assert plan.status.value == "queued"
        served.run(work_until_idle(served.app))
        done = _call("logistics.read_plan", as_(carrier.api_key), 200, plan.id)
        assert done.status.value == "done"
        assert done.result.kpis.km > 0 and done.result.kpis.vehicles == 1
        [route] = done.result.routes
        assert [s.kind.value for s in route.stops] == ["start", "pickup", "delivery", "end"]
        listed = _call("logistics.list_plans", as_(carrier.api_key), 200)
        assert plan.id in {p.id for p in listed.items}
