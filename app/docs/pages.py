"""The API's own pages: `/` (where to go), `/docs` (Swagger UI) and `/redoc` (ReDoc), both
over /openapi.json with their bundles served from web/node_modules/. The pages are files of
web/ that start their bundles from files too: the Content-Security-Policy of every page
(app.kit.security_headers) runs no inline script. They load nothing from another host: ReDoc's
sidebar shows its maker's logo from a CDN, which the browser is told not to fetch (the logo then
hides itself)."""

from fastapi import FastAPI
from fastapi.responses import FileResponse
from starlette.staticfiles import StaticFiles

from app.kit.web_assets import NODE_MODULES, WEB_DIR, not_installed

SWAGGER_UI = NODE_MODULES / "swagger-ui-dist"
REDOC = NODE_MODULES / "redoc" / "bundles"
SWAGGER_ASSETS = "/docs/assets/swagger-ui"
REDOC_ASSETS = "/docs/assets/redoc"
HTML = "text/html; charset=utf-8"


def mount_docs(app: FastAPI) -> None:
    """Serves `/`, `/docs` and `/redoc`; a docs page whose bundle is missing answers 503
    saying how to install it, and the rest of the app runs as ever."""
    swagger = (SWAGGER_UI / "swagger-ui-bundle.js").is_file()
    redoc = (REDOC / "redoc.standalone.js").is_file()

    @app.get("/", include_in_schema=False)
    async def landing_page() -> FileResponse:
        return FileResponse(WEB_DIR / "index.html", media_type=HTML)

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> FileResponse:
        if not swagger:
            raise not_installed("Swagger UI (swagger-ui-dist)")
        return FileResponse(WEB_DIR / "docs.html", media_type=HTML)

    @app.get("/docs/assets/docs.js", include_in_schema=False)
    async def swagger_ui_start() -> FileResponse:
        return FileResponse(WEB_DIR / "docs.js", media_type="text/javascript")

    @app.get("/redoc", include_in_schema=False)
    async def redoc_page() -> FileResponse:
        if not redoc:
            raise not_installed("ReDoc (redoc)")
        return FileResponse(WEB_DIR / "redoc.html", media_type=HTML)

    if swagger:
        app.mount(SWAGGER_ASSETS, StaticFiles(directory=SWAGGER_UI), name="swagger-ui")
    if redoc:
        app.mount(REDOC_ASSETS, StaticFiles(directory=REDOC), name="redoc")
