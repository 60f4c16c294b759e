"""The OpenAPI document is one an integrator can work from alone: every operation says what it
does and declares the problems it can answer (its own, not one list for all), every property
is described, the rules the code enforces are in the schema, and the spatial answers say
`application/geo+json`."""

from typing import Any

import pytest

from app.main import create_app
from tests.conftest import settings_for

DOCUMENT: dict[str, Any] = create_app(
    settings_for("postgresql+asyncpg://127.0.0.1/unused")
).openapi()
OPERATIONS = [
    (method.upper(), path, operation)
    for path, methods in DOCUMENT["paths"].items()
    for method, operation in methods.items()
]
SCHEMAS: dict[str, Any] = DOCUMENT["components"]["schemas"]
# Answers that are GeoJSON, as the design promises.
GEOJSON = {
    ("GET", "/v1/offers"),
    ("GET", "/v1/requests"),
    ("GET", "/v1/sites"),
    ("GET", "/v1/route-plans/{plan_id}"),
    ("GET", "/v1/stats/flows"),
}


# Lists that every version of the API pages, as the design promises.
PAGED = {"/v1/offers", "/v1/requests", "/v1/sites", "/v1/matches", "/v1/webhooks"}


def _label(method: str, path: str) -> str:
    return f"{method} {path}"


def _operation(method: str, path: str) -> dict[str, Any]:
    """The document's operation, which must be there."""
    assert path in DOCUMENT["paths"], f"{path} is not in the document"
    methods: dict[str, Any] = DOCUMENT["paths"][path]
    assert method.lower() in methods, f"{_label(method, path)} is not in the document"
    operation: dict[str, Any] = methods[method.lower()]
    return operation


def test_the_document_has_the_operations_and_schemas_it_describes() -> None:
    # Enough that the checks over all of them below check something.
    assert len(OPERATIONS) >= 60 and len(SCHEMAS) >= 40, (len(OPERATIONS), len(SCHEMAS))


def test_every_operation_says_what_it_does() -> None:
    silent = [
        _label(m, p)
        for m, p, o in OPERATIONS
        if len(o.get("description", "").strip()) < 40 or o.get("description") == o.get("summary")
    ]
    assert silent == [], f"{len(silent)} of {len(OPERATIONS)} operations have no description"


def test_every_property_is_described() -> None:
    silent = [
        f"{name}.{field}"
        for name, schema in SCHEMAS.items()
        for field, spec in schema.get("properties", {}).items()
        if not spec.get("description", "").strip()
    ]
    total = sum(len(s.get("properties", {})) for s in SCHEMAS.values())
    assert silent == [], f"{len(silent)} of {total} properties have no description"


def _parameters(operation: dict[str, Any], where: str) -> dict[str, dict[str, Any]]:
    return {p["name"]: p for p in operation.get("parameters", []) if p["in"] == where}


def _problems(operation: dict[str, Any]) -> set[int]:
    return {int(s) for s in operation["responses"] if int(s) >= 400}


@pytest.mark.parametrize(
    ("method", "path", "operation"), OPERATIONS, ids=[_label(m, p) for m, p, _ in OPERATIONS]
)
def test_each_operation_declares_the_problems_it_can_answer(
    method: str, path: str, operation: dict[str, Any]
) -> None:
    declared = _problems(operation)
    has_body = "requestBody" in operation
    has_path_ids = bool(_parameters(operation, "path"))
    takes_if_match = "If-Match" in _parameters(operation, "header")
    secured = operation.get("security") != [] and bool(operation.get("security"))
    takes_input = has_body or bool(_parameters(operation, "query")) or has_path_ids
    expected_present = {
        401: secured,
        400: has_body,
        413: has_body,
        412: takes_if_match,
        422: takes_input,
    }
    for status, must in expected_present.items():
        assert (status in declared) == must, (status, sorted(declared))
    # A path without an id finds nothing to miss, unless it says what (`says`) it looks up.
    assert (
        has_path_ids
        or 404 not in declared
        or "No such resource" not in operation["responses"]["404"]["description"]
    )
    for status in declared:
        answer = operation["responses"][str(status)]
        assert "application/problem+json" in answer["content"], status
        assert answer["description"].strip()


def test_the_problems_are_not_one_list_for_all() -> None:
    assert len({tuple(sorted(_problems(o))) for _, _, o in OPERATIONS}) >= 8


def test_the_enforced_rules_are_in_the_schema() -> None:
    limited = {
        _label(m, p): _parameters(o, "query")["limit"]
        for m, p, o in OPERATIONS
        if "limit" in _parameters(o, "query")
    }
    paged = {
        _label(m, p): _parameters(o, "query")["cursor"]
        for m, p, o in OPERATIONS
        if "cursor" in _parameters(o, "query")
    }
    # The lists the design pages are paged, and every paged list takes a limit.
    assert {_label("GET", path) for path in PAGED} <= set(paged), sorted(paged)
    assert set(paged) <= set(limited), sorted(set(paged) - set(limited))
    for label, limit in limited.items():
        assert (limit["schema"].get("minimum"), limit["schema"].get("maximum")) == (1, 500), label
    for label, cursor in paged.items():
        assert cursor["schema"]["anyOf"][0].get("maxLength") == 512, label
    # Every POST takes an Idempotency-Key (the middleware reads it on each), bounded; but for
    # the web shop platforms' own calls, signed with their HMAC instead of an API key, which
    # send no such header (their replays are taken once by their own delivery ids).
    signed_by_a_platform = {"WooCommerceSignature", "ShopifySignature"}
    posts = [
        (m, p, o)
        for m, p, o in OPERATIONS
        if m == "POST" and not any(set(s) & signed_by_a_platform for s in o.get("security", []))
    ]
    assert posts
    for method, path, operation in posts:
        headers = _parameters(operation, "header")
        assert "Idempotency-Key" in headers, _label(method, path)
        schema = headers["Idempotency-Key"]["schema"]["anyOf"][0]
        assert (schema.get("minLength"), schema.get("maxLength")) == (1, 255), _label(method, path)


def test_the_spatial_answers_say_geojson() -> None:
    for method, path in sorted(GEOJSON):
        content = _operation(method, path)["responses"]["200"]["content"]
        assert "application/geo+json" in content, _label(method, path)
        schema = content["application/geo+json"].get("schema", {})
        assert schema, _label(method, path)


def test_the_features_and_results_are_typed() -> None:
    untyped = [
        f"{name}.{field}"
        for name, schema in SCHEMAS.items()
        for field, spec in schema.get("properties", {}).items()
        if spec.get("type") == "object" and spec.get("additionalProperties") is True
    ]
    assert untyped == []
    assert "Feature" not in SCHEMAS, "a generic Feature with untyped properties is left"
