"""The map page, `GET /map`: MapLibre over the open data of `/ogc` and, with an API key pasted
into the page, the organization's own rows and route plans from `/v1`. The page's files are in
web/; MapLibre itself is web/node_modules/maplibre-gl/dist, installed by scripts/setup.sh. The page
loads nothing from elsewhere and sends the key nowhere else: the Content-Security-Policy of every
page (app.kit.security_headers) holds the browser to that."""

import mimetypes

from fastapi import FastAPI, HTTPException
from fastapi.responses import FileResponse
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from app.kit.web_assets import NODE_MODULES, WEB_DIR, not_installed

MAPLIBRE_DIST = NODE_MODULES / "maplibre-gl" / "dist"
PAGE_ASSETS = frozenset({"map.js", "map.css"})
# A module script must come as JavaScript; not every system's MIME table knows .mjs.
mimetypes.add_type("text/javascript", ".mjs")


class _PageAssets(StaticFiles):
    """The page's own files in web/, and none of the rest of the folder."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        if path not in PAGE_ASSETS:
            raise HTTPException(status_code=404)
        return await super().get_response(path, scope)


def mount_map(app: FastAPI) -> None:
    """Serves the page and its assets. Without MapLibre installed, the page answers 503 saying
    how to install it; the rest of the app runs as ever."""
    maplibre = (MAPLIBRE_DIST / "maplibre-gl.mjs").is_file()

    @app.get("/map", include_in_schema=False)
    async def map_page() -> FileResponse:
        if not maplibre:
            raise not_installed("MapLibre GL JS (maplibre-gl)")
        return FileResponse(
            WEB_DIR / "map.html",
            media_type="text/html; charset=utf-8",
        )

    if maplibre:
        app.mount(
            "/map/assets/maplibre-gl", StaticFiles(directory=MAPLIBRE_DIST), name="map-maplibre"
        )
    app.mount("/map/assets", _PageAssets(directory=WEB_DIR, check_dir=False), name="map-assets")
