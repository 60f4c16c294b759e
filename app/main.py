"""The application factory."""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from prometheus_fastapi_instrumentator import Instrumentator

from app.candidates.router import router as candidates_router
from app.db import (
    autocommit,
    create_api_engine,
    create_listening_engine,
    create_read_sessionmaker,
    create_sessionmaker,
)
from app.deliveries.router import router as deliveries_router
from app.districts.router import router as districts_router
from app.docs.pages import mount_docs
from app.fleet.router import router as fleet_router
from app.gateway.grants import Grants
from app.gateway.idempotency import IdempotencyMiddleware
from app.gateway.rate_limit import RATE_LIMIT_FIELDS, RateLimitMiddleware
from app.geocoding.router import router as geocoding_router
from app.health.router import router as health_router
from app.health.service import migration_head
from app.hubs.router import router as hubs_router
from app.kit.allowed_methods import MethodsMiddleware
from app.kit.body_limit import BodyLimitMiddleware
from app.kit.error_handlers import install_error_handlers
from app.kit.notifications import Notifications, listen
from app.kit.problem_docs import with_problem_media_type, with_schemas
from app.kit.schema import PlainParameters
from app.kit.security_headers import SecurityHeadersMiddleware
from app.kit.spatial import ServiceAreaBox
from app.kit.unexpected_errors import UnexpectedErrorMiddleware
from app.map.pages import mount_map
from app.matches.router import router as matches_router
from app.matching_runs.router import router as matching_runs_router
from app.materials.router import router as materials_router
from app.offers.router import router as offers_router
from app.ogc.mount import OGC_PATH, open_data_app
from app.organizations.router import router as organizations_router
from app.requests.router import router as requests_router
from app.route_plans.geojson import RoutePlanFeatureCollection
from app.route_plans.router import router as route_plans_router
from app.settings import Settings, get_settings
from app.shipments.match_router import router as match_shipments_router
from app.shipments.router import router as shipments_router
from app.shop_connections.router import router as shop_connections_router
from app.sites.router import router as sites_router
from app.stats.kept import KeptAnswers
from app.stats.router import router as stats_router
from app.stats.schemas import FlowFeatureCollection
from app.webhooks.router import router as webhooks_router

DESCRIPTION = """
boucle puts the secondary materials of Brussels back into circulation: companies post what
they have (**offers**) and what they need (**requests**), boucle finds them near each other.

* Auth: `Authorization: Bearer <api key>`; the admin token creates organizations.
* Errors are `application/problem+json` (RFC 9457); validation errors list each failing
  `field` with the `rule` it broke.
* Locations are GeoJSON Points, `[lon, lat]` in WGS84. Belgian users may send Belgian
  Lambert 72 or 2008 metres instead with `"crs": "EPSG:31370"` or `"EPSG:3812"`.
* Every POST takes an `Idempotency-Key`: the same key and body answer the first response again.
* PATCH and DELETE take `If-Match` with the ETag you read: a stale write answers 412.
* Spatial lists answer `application/geo+json` FeatureCollections with a `next` link.
* Each API key has a rate limit (without a key, each address): every answer says what is left
  in `RateLimit` and the limit in `RateLimit-Policy` (IETF draft
  draft-ietf-httpapi-ratelimit-headers), and past it 429 with `Retry-After`.

Map data © OpenStreetMap contributors (ODbL).
"""


# The API's routes, each limited by key (the open data, at OGC_PATH, by address).
API_PATH = "/v1"

# Answers some routes give in another media type than their model's (GeoJSON with
# `format=geojson`): their schemas go into the document beside the models'.
ALTERNATIVE_ANSWERS = (RoutePlanFeatureCollection, FlowFeatureCollection)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    engine = create_api_engine(settings)
    # The key's lookup and the rate limit's count, each a statement of its own that commits at
    # once, on the engine's pool.
    autocommit_engine = autocommit(engine)
    ogc_app, open_data = open_data_app(settings)

    notifications = Notifications()
    grants = Grants(settings, notifications)
    listening_engine = create_listening_engine(settings)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        listening = asyncio.create_task(listen(listening_engine, notifications))
        yield
        listening.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await listening
        await listening_engine.dispose()
        await open_data.close()
        await engine.dispose()

    app = FastAPI(
        title="boucle",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        # Served by app.docs from local bundles: the default ones come from a CDN.
        docs_url=None,
        redoc_url=None,
        # Every route's path and query strings are checked once, here.
        dependencies=[PlainParameters],
        # Each operation's id is its handler's name (`create_offer`): what a generated client
        # calls it.
        generate_unique_id_function=lambda route: route.name,
    )
    document = app.openapi
    app.openapi = lambda: with_problem_media_type(  # type: ignore[method-assign]
        with_schemas(document(), ALTERNATIVE_ANSWERS)
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.autocommit_engine = autocommit_engine
    app.state.grants = grants
    app.state.kept_stats_answers = KeptAnswers(notifications)
    app.state.sessionmaker = create_sessionmaker(engine)
    app.state.read_sessionmaker = create_read_sessionmaker(engine)
    app.state.migration_head = migration_head()
    app.state.service_area_box = ServiceAreaBox()

    install_error_handlers(app)
    for router in (
        health_router,
        organizations_router,
        materials_router,
        sites_router,
        offers_router,
        requests_router,
        candidates_router,
        matches_router,
        match_shipments_router,
        matching_runs_router,
        webhooks_router,
        fleet_router,
        shipments_router,
        route_plans_router,
        deliveries_router,
        shop_connections_router,
        hubs_router,
        stats_router,
        districts_router,
        geocoding_router,
    ):
        app.include_router(router)
    mount_docs(app)
    mount_map(app)
    app.mount(OGC_PATH, ogc_app)

    # Outermost last: the rate limit runs first, so that a request past it costs nothing
    # more (and its 429 has the CORS headers a browser needs to read it); then the body limit,
    # so that idempotency sees a bounded body; and an unexpected error is a 500 answer by the
    # time idempotency and metrics see it.
    app.add_middleware(MethodsMiddleware)
    app.add_middleware(UnexpectedErrorMiddleware)
    app.add_middleware(IdempotencyMiddleware, ttl_hours=settings.idempotency_ttl_hours)
    app.add_middleware(BodyLimitMiddleware, max_body_bytes=settings.max_body_bytes)
    if settings.rate_limit_requests:
        app.add_middleware(
            RateLimitMiddleware,
            settings=settings,
            engine=autocommit_engine,
            grants=grants,
            by_key=(API_PATH,),
            by_address=(OGC_PATH,),
        )
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["*"],
            allow_headers=["*"],
            expose_headers=["ETag", "Location", "Link", *RATE_LIMIT_FIELDS],
        )
    # Outermost: every answer carries them, an error's and a 413 included.
    app.add_middleware(SecurityHeadersMiddleware)
    Instrumentator(excluded_handlers=["/metrics"]).instrument(app).expose(
        app, include_in_schema=False
    )
    return app
