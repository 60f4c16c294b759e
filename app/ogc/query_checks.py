"""A query of the open data, checked before tipg runs it: what it may name (app.ogc.filters),
and what tipg lets through to a 500: a negative simplification and a tile outside its matrix
set (PostGIS fails on both)."""

import re
from typing import Any

from fastapi import Request
from morecantile import tms as tile_matrix_sets

from app.kit.problems import BadRequest, NotFound, ValidationFailed
from app.kit.schema import CONTROL_MESSAGE, CONTROL_RULE, has_control_characters
from app.ogc.filters import check_filter, check_property_list

_TILE = re.compile(r"/tiles/(?P<tms>[^/]+)/(?P<z>-?\d+)/(?P<x>-?\d+)/(?P<y>-?\d+)$")
# The deepest of the tile matrix sets tipg serves (morecantile's go to 24 or 30).
_DEEPEST_ZOOM = 30
_COLLECTION = re.compile(r"/collections/(?P<id>[^/]+)(?:/|$)")


def check_open_data_query(request: Request, catalog: dict[str, Any]) -> None:
    """`catalog` is tipg's: its collections by id, each with its properties."""
    if has_control_characters(request.url.path):
        raise ValidationFailed.field("path", CONTROL_RULE, CONTROL_MESSAGE, "path")
    for name, value in request.query_params.multi_items():
        if has_control_characters(value):
            raise ValidationFailed.field(name, CONTROL_RULE, CONTROL_MESSAGE, "query")
    collection = _COLLECTION.search(request.url.path)
    found = catalog.get("collections", {}).get(collection["id"]) if collection else None
    if found is not None:
        properties = [column.name for column in found.properties]
        query = request.query_params.get("filter")
        if query is not None:
            check_filter(query, request.query_params.get("filter-lang"), properties)
        for parameter in ("sortby", "properties"):
            listed = request.query_params.get(parameter)
            if listed is not None:
                check_property_list(parameter, listed, properties)
    simplify = request.query_params.get("simplify")
    if simplify is not None:
        try:
            tolerance = float(simplify)
        except ValueError:
            tolerance = -1
        if not 0 <= tolerance < float("inf"):
            raise BadRequest("simplify is a tolerance in degrees: a number, 0 or more.")
    for parameter in ("minzoom", "maxzoom"):
        zoom = request.query_params.get(parameter)
        if zoom is not None and not (zoom.isdigit() and int(zoom) <= _DEEPEST_ZOOM):
            raise BadRequest(f"{parameter} is a zoom level, a whole number from 0 to 30.")
    tile = _TILE.search(request.url.path)
    if tile is not None and tile["tms"] in tile_matrix_sets.list():
        matrix_set = tile_matrix_sets.get(tile["tms"])
        z, x, y = int(tile["z"]), int(tile["x"]), int(tile["y"])
        if not matrix_set.minzoom <= z <= matrix_set.maxzoom:
            raise NotFound(
                f"No tile at zoom {z}: {tile['tms']} goes from {matrix_set.minzoom} to "
                f"{matrix_set.maxzoom}."
            )
        matrix = matrix_set.matrix(z)
        if not (0 <= x < matrix.matrixWidth and 0 <= y < matrix.matrixHeight):
            raise NotFound(
                f"No tile {z}/{x}/{y}: at zoom {z} x and y go up to {matrix.matrixWidth - 1}."
            )
