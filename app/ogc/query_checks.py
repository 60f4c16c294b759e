"""What tipg lets through to a 500, checked before it runs: a filter cql2 cannot read (cql2
raises a bare Exception), a negative simplification and a tile outside its matrix set (PostGIS
fails on both)."""

import re

import cql2
from fastapi import Request
from morecantile import tms as tile_matrix_sets

from app.errors import BadRequest, NotFound

_TILE = re.compile(r"/tiles/(?P<tms>[^/]+)/(?P<z>-?\d+)/(?P<x>-?\d+)/(?P<y>-?\d+)$")


def check_open_data_query(request: Request) -> None:
    query = request.query_params.get("filter")
    if query is not None:
        try:
            cql2.Expr(cql2.Expr(query).to_json())
        except Exception as error:
            raise BadRequest(f"The filter is not a CQL2 expression: {error}") from error
    simplify = request.query_params.get("simplify")
    if simplify is not None:
        try:
            tolerance = float(simplify)
        except ValueError:
            tolerance = -1
        if not 0 <= tolerance < float("inf"):
            raise BadRequest("simplify is a tolerance in degrees: a number, 0 or more.")
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
