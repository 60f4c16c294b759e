"""What a query of the open data may name, by allow-list. cql2 turns any function name it does not
know into a SQL call, which tipg puts into its WHERE clause: a filter may use only the
collection's own properties, literals, and the operators below, which cql2 turns into SQL of
its own. `sortby` and `properties` may name only the collection's properties."""

import json
from collections.abc import Iterable
from typing import Any

import cql2

from app.kit.problems import BadRequest, FieldError

COMPARISON = ("=", "<>", "<", "<=", ">", ">=", "like", "between", "in", "isNull")
LOGICAL = ("and", "or", "not")
# tipg's documented spatial and temporal predicates (OGC API - Features Part 3).
SPATIAL = (
    "s_intersects",
    "s_equals",
    "s_disjoint",
    "s_touches",
    "s_within",
    "s_overlaps",
    "s_crosses",
    "s_contains",
)
TEMPORAL = (
    "t_after",
    "t_before",
    "t_contains",
    "t_disjoint",
    "t_during",
    "t_equals",
    "t_finishedBy",
    "t_finishes",
    "t_intersects",
    "t_meets",
    "t_metBy",
    "t_overlappedBy",
    "t_overlaps",
    "t_startedBy",
    "t_starts",
)
OPERATORS = frozenset((*COMPARISON, *LOGICAL, *SPATIAL, *TEMPORAL))
_GEOMETRIES = frozenset(
    ("Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon")
)
_ALLOWED = (
    "a filter may use the collection's properties, literals (strings, numbers, booleans, "
    "DATE, TIMESTAMP, INTERVAL and geometries) and the comparison, logical, LIKE, "
    "BETWEEN, IN and IS NULL operators and the S_ and T_ predicates"
)


def _refused(what: str) -> BadRequest:
    message = f"The filter may not use {what}: {_ALLOWED}."
    return BadRequest(
        message, errors=[FieldError("filter", "allowed_cql2", message, location="query")]
    )


def check_filter(text: str, language: str | None, properties: Iterable[str]) -> None:
    """Raises a 400 naming the first thing `text` uses that is not allowed."""
    try:
        source: Any = json.loads(text) if language == "cql2-json" else text
        tree = cql2.Expr(source).to_json()
    except Exception as error:  # cql2 raises bare Exceptions
        message = "The filter is not a CQL2 expression."
        raise BadRequest(
            message, errors=[FieldError("filter", "cql2", message, location="query")]
        ) from error
    # What was sent, and what cql2 made of it (which tipg turns into SQL), both.
    for checked in (source, tree) if language == "cql2-json" else (tree,):
        _check(checked, frozenset(properties))


def _check(node: Any, properties: frozenset[str]) -> None:
    if node is None or isinstance(node, bool | int | float | str):
        return
    if isinstance(node, list):
        for item in node:
            _check_literal(item)
        return
    if not isinstance(node, dict):
        raise _refused(f"a {type(node).__name__}")
    if "property" in node:
        name = node["property"]
        if set(node) != {"property"} or name not in properties:
            raise _refused(f"`{name}`, which is not a property of this collection")
        return
    if "op" in node:
        if node["op"] not in OPERATORS or set(node) - {"op", "args"}:
            raise _refused(f"`{node['op']}`")
        for argument in node.get("args", []):
            _check(argument, properties)
        return
    _check_literal(node)


def _check_literal(node: Any) -> None:
    """A value: a scalar, a date, a timestamp, an interval, a bbox or a GeoJSON geometry."""
    if node is None or isinstance(node, bool | int | float | str):
        return
    if isinstance(node, dict) and len(node) == 1:
        ((kind, value),) = node.items()
        if kind in ("date", "timestamp") and isinstance(value, str):
            return
        if kind == "interval" and isinstance(value, list) and len(value) == 2:
            for end in value:
                _check_literal(end)
            return
        if kind == "bbox":
            # cql2 makes it an envelope of no SRID, which PostGIS will not compare.
            raise _refused("BBOX(...) (give the `bbox` parameter, or a POLYGON)")
    if _is_geometry(node):
        return
    raise _refused(f"the value {json.dumps(node)[:80]}")


def _is_geometry(node: Any) -> bool:
    return (
        isinstance(node, dict)
        and node.get("type") in _GEOMETRIES
        and set(node) == {"type", "coordinates"}
        and _coordinates(node["coordinates"])
    )


def _numbers(value: Any) -> bool:
    return isinstance(value, list) and all(
        isinstance(n, int | float) and not isinstance(n, bool) for n in value
    )


def _coordinates(value: Any) -> bool:
    if _numbers(value):
        return len(value) in (2, 3)
    return isinstance(value, list) and bool(value) and all(_coordinates(v) for v in value)


def check_property_list(parameter: str, value: str, properties: Iterable[str]) -> None:
    """`sortby` (each name with an optional + or -) and `properties` name known properties."""
    known = frozenset(properties)
    for name in (part.strip().lstrip("+-") for part in value.split(",")):
        if name and name not in known:
            message = f"`{name}` is not a property of this collection."
            raise BadRequest(
                message,
                errors=[FieldError(parameter, "known_property", message, location="query")],
            )
