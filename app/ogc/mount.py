"""The open data: OGC API - Features and vector tiles by tipg over the views of the `ogc` schema
(public fields only: see the migration that makes them), mounted at /ogc. QGIS adds it as an
"OGC API - Features" layer at http://<host>/ogc.

tipg keeps a pool of its own and reads the views' catalog from the database. Both are made on
the first request rather than at start, so that the API starts, and says it is not ready,
while the database is down or not migrated yet; until then /ogc answers 503."""

import asyncio
import logging
from typing import Any

import asyncpg
from fastapi import FastAPI, Request, Response
from sqlalchemy.engine import make_url
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.routing import Router
from starlette.types import ASGIApp, Receive, Scope, Send
from tipg.collections import register_collection_catalog
from tipg.database import close_db_connection, connection_factory
from tipg.factory import Endpoints
from tipg.settings import DatabaseSettings

from app.kit.least_privilege import refuse_privileged_role
from app.kit.problems import Problem, ServiceUnavailable, problem_response
from app.ogc.errors import install_open_data_errors
from app.ogc.pages import open_data_templates
from app.ogc.query_checks import check_open_data_query
from app.settings import Settings

OGC_PATH = "/ogc"
OGC_SCHEMA = "ogc"
TITLE = "boucle open data (© OpenStreetMap contributors for the roads, communes and districts)"

log = logging.getLogger(__name__)

OPEN_DATA_UNAVAILABLE = ServiceUnavailable(
    "The open data cannot be read now: the database is out of reach or not migrated yet. "
    "Try again shortly.",
    headers={"Retry-After": "5"},
)


OPEN_DATA_NOT_CONFIGURED = ServiceUnavailable(
    "The open data is not served here: BOUCLE_OPEN_DATA_DATABASE_URL is not set.",
    headers={"Retry-After": "3600"},
)


class OpenData:
    """tipg's pool and catalog, made once on demand and closed with the app. The pool connects
    as the open data's role (app.database_roles), never as the service's."""

    def __init__(self, settings: Settings, app: FastAPI) -> None:
        self.app = app
        self.database_url = settings.open_data_database_url and (
            make_url(settings.open_data_database_url)
            .set(drivername="postgresql")
            .render_as_string(hide_password=False)
        )
        self.lock = asyncio.Lock()
        self.ready = False

    async def _connect(self, connection: asyncpg.Connection) -> None:
        await refuse_privileged_role(connection, "BOUCLE_OPEN_DATA_DATABASE_URL")
        # tipg makes its catalog's functions in pg_temp, which a read-only session may not:
        # they are made first, then the session is read-only again, as its role's default.
        await connection.execute("SET default_transaction_read_only = off")
        await connection_factory([OGC_SCHEMA], "pg_temp")(connection)
        await connection.execute("SET default_transaction_read_only = on")

    async def ensure(self) -> None:
        async with self.lock:
            if self.ready:
                return
            if not self.database_url:
                raise OPEN_DATA_NOT_CONFIGURED
            self.app.state.pool = await asyncpg.create_pool(
                self.database_url, min_size=1, max_size=4, init=self._connect
            )
            try:
                await register_collection_catalog(
                    self.app, db_settings=DatabaseSettings(schemas=[OGC_SCHEMA])
                )
            except BaseException:
                await close_db_connection(self.app)
                raise
            self.ready = True

    async def close(self) -> None:
        async with self.lock:
            if self.ready:
                await close_db_connection(self.app)
                self.ready = False


class _OpenDataGate(BaseHTTPMiddleware):
    """Checks what tipg would fail on, then opens the open data if it is not yet."""

    def __init__(self, app: Any, open_data: OpenData) -> None:
        super().__init__(app)
        self.open_data = open_data

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        try:
            await self.open_data.ensure()
        except Problem as problem:  # not configured, or a privileged role (refused)
            return problem_response(problem, request, problem.headers)
        except Exception as error:
            log.warning("open data unavailable: %s", error)
            return problem_response(OPEN_DATA_UNAVAILABLE, request, OPEN_DATA_UNAVAILABLE.headers)
        try:
            check_open_data_query(request, self.open_data.app.state.collection_catalog)
        except Problem as problem:
            return problem_response(problem, request)
        return await call_next(request)


class _LinksWithinTheMount:
    """Starlette finds a route by name in the outermost app's router, and makes its URL from
    the outermost app's root: inside the mount, tipg's landing page would link the API's
    `/openapi.json` as the open data's document. Within the mount, both are the open data's."""

    def __init__(self, app: ASGIApp, router: Router) -> None:
        self.app, self.router = app, router

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            scope = {**scope, "router": self.router, "app_root_path": scope.get("root_path", "")}
        await self.app(scope, receive, send)


def open_data_app(settings: Settings) -> tuple[FastAPI, OpenData]:
    """The tipg application to mount at OGC_PATH, and what opens and closes its pool."""
    app = FastAPI(title=TITLE, openapi_url="/api", docs_url="/api.html", redoc_url=None)
    endpoints = Endpoints(title=TITLE, with_tiles_viewer=False, templates=open_data_templates())
    app.include_router(endpoints.router)
    install_open_data_errors(app)
    open_data = OpenData(settings, app)
    app.add_middleware(_OpenDataGate, open_data=open_data)
    app.add_middleware(_LinksWithinTheMount, router=app.router)
    return app, open_data
