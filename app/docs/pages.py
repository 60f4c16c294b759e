"""The API's own pages: `/` (where to go), `/docs` (Swagger UI) and `/redoc` (ReDoc), both
over /openapi.json with their bundles served from web/node_modules/."""

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse
from starlette.staticfiles import StaticFiles

from app.kit.web_assets import NODE_MODULES, WEB_DIR, not_installed

SWAGGER_UI = NODE_MODULES / "swagger-ui-dist"
REDOC = NODE_MODULES / "redoc" / "bundles"
SWAGGER_ASSETS = "/docs/assets/swagger-ui"
# The pages load nothing from another host: ReDoc's sidebar shows its maker's logo from a CDN,
# which the browser is told not to fetch (the logo then hides itself). Both pages start with a
# script of FastAPI's inline, and style themselves inline.
DOCS_CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self' 'unsafe-inline'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "worker-src 'self' blob:",
        "object-src 'none'",
        "base-uri 'none'",
    )
)
REDOC_ASSETS = "/docs/assets/redoc"


def mount_docs(app: FastAPI) -> None:
    """Serves `/`, `/docs` and `/redoc`; a docs page whose bundle is missing answers 503
    saying how to install it, and the rest of the app runs as ever."""
    title = f"{app.title} API"
    swagger = (SWAGGER_UI / "swagger-ui-bundle.js").is_file()
    redoc = (REDOC / "redoc.standalone.js").is_file()

    @app.get("/", include_in_schema=False)
    async def landing_page() -> FileResponse:
        return FileResponse(WEB_DIR / "index.html", media_type="text/html; charset=utf-8")

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        if not swagger:
            raise not_installed("Swagger UI (swagger-ui-dist)")
        page = get_swagger_ui_html(
            openapi_url=str(app.openapi_url),
            title=title,
            swagger_js_url=f"{SWAGGER_ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{SWAGGER_ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{SWAGGER_ASSETS}/favicon-32x32.png",
            # Its default validator is a badge fetched from another host.
            swagger_ui_parameters={"validatorUrl": None, "persistAuthorization": False},
        )
        page.headers["Content-Security-Policy"] = DOCS_CONTENT_SECURITY_POLICY
        return page

    @app.get("/redoc", include_in_schema=False)
    async def redoc_page() -> HTMLResponse:
        if not redoc:
            raise not_installed("ReDoc (redoc)")
        page = get_redoc_html(
            openapi_url=str(app.openapi_url),
            title=title,
            redoc_js_url=f"{REDOC_ASSETS}/redoc.standalone.js",
            with_google_fonts=False,
            redoc_favicon_url="data:,",
        )
        page.headers["Content-Security-Policy"] = DOCS_CONTENT_SECURITY_POLICY
        return page

    if swagger:
        app.mount(SWAGGER_ASSETS, StaticFiles(directory=SWAGGER_UI), name="swagger-ui")
    if redoc:
        app.mount(REDOC_ASSETS, StaticFiles(directory=REDOC), name="redoc")
