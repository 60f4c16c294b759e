"""The five operations of a kind of listing (post, list, read, patch, withdraw), made once for
offers and requests alike: each kind gives its nouns, schemas, effects and texts."""

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request, Response, status
from pydantic import BaseModel

from app.auth import CurrentPrincipal
from app.gateway.idempotency import IdempotencyKey
from app.kit.etag import IfMatch
from app.kit.geo import GeoJSONResponse, feature_page
from app.kit.owned import answer
from app.kit.pagination import Page
from app.kit.problem_docs import AUTHENTICATED, WRITE, problems
from app.kit.request_session import Session
from app.kit.spatial import Near
from app.listings.kind import ListingEffects, ListingFilters, ListingKind, Row
from app.listings.service import (
    create_listing,
    delete_listing,
    get_listing,
    list_listings,
    update_listing,
)
from app.settings import AppSettings


@dataclass(frozen=True)
class Operation:
    summary: str
    description: str


@dataclass(frozen=True)
class ListingTexts:
    """What the OpenAPI document says of each operation of the kind."""

    create: Operation
    list: Operation
    read: Operation
    update: Operation
    delete: Operation
    # The 404 of an unknown id, and the 409 of a patch or a delete refused.
    not_found: str
    refused: str


def _reads_body(endpoint: Callable[..., Any], schema: type[BaseModel]) -> Callable[..., Any]:
    """FastAPI reads the body's schema from the annotation: each kind's own, set here since
    the endpoint is made once for every kind."""
    endpoint.__annotations__["data"] = schema
    return endpoint


def listing_router(
    kind: ListingKind[Row], effects: ListingEffects[Row], texts: ListingTexts
) -> APIRouter:
    """/v1/{plural} and /v1/{plural}/{noun}_id, tagged with the plural; each operation named
    by the verb and the noun (`create_offer`, `list_offers`), its id as the client knows it."""
    noun, plural, schemas = kind.noun, kind.plural, kind.schemas
    router = APIRouter(prefix=f"/v1/{plural}", tags=[plural])
    ListingId = Annotated[uuid.UUID, Path(alias=f"{noun}_id")]
    not_found = {404: texts.not_found}
    refused = {**not_found, 409: texts.refused}

    async def create(
        data: BaseModel,
        principal: CurrentPrincipal,
        session: Session,
        settings: AppSettings,
        response: Response,
    ) -> BaseModel:
        row = await create_listing(kind, effects, session, settings, principal, data)
        response.headers["Location"] = f"/v1/{plural}/{row.id}"
        return answer(response, row, partial(schemas.view, viewer=principal.organization_id))

    router.add_api_route(
        "",
        _reads_body(create, schemas.create),
        methods=["POST"],
        name=f"create_{noun}",
        status_code=status.HTTP_201_CREATED,
        response_model=schemas.full,
        dependencies=[IdempotencyKey],
        summary=texts.create.summary,
        description=texts.create.description,
        responses=problems(*AUTHENTICATED, *WRITE, 403),
    )

    async def list_all(
        filters: Annotated[ListingFilters, Depends(kind.query)],
        request: Request,
        principal: CurrentPrincipal,
        session: Session,
        page: Page,
        near: Near,
    ) -> GeoJSONResponse:
        rows = await list_listings(kind, session, principal, filters, near=near, page=page)
        viewer = principal.organization_id
        return feature_page(
            request,
            rows,
            page,
            lambda row, distance_m: schemas.feature_of(row, viewer, distance_m),
            schemas.collection,
        )

    router.add_api_route(
        "",
        list_all,
        methods=["GET"],
        name=f"list_{plural}",
        response_class=GeoJSONResponse,
        response_model=schemas.collection,
        summary=texts.list.summary,
        description=texts.list.description,
        responses=problems(*AUTHENTICATED, 422),
    )

    async def read(
        listing_id: ListingId, principal: CurrentPrincipal, session: Session, response: Response
    ) -> BaseModel:
        row = await get_listing(kind, session, principal, listing_id)
        return answer(response, row, partial(schemas.view, viewer=principal.organization_id))

    router.add_api_route(
        "/{" + noun + "_id}",
        read,
        methods=["GET"],
        name=f"read_{noun}",
        response_model=schemas.full | schemas.public,
        summary=texts.read.summary,
        description=texts.read.description,
        responses=problems(*AUTHENTICATED, 422, says=not_found),
    )

    async def update(
        listing_id: ListingId,
        data: BaseModel,
        principal: CurrentPrincipal,
        session: Session,
        settings: AppSettings,
        response: Response,
        if_match: IfMatch = None,
    ) -> BaseModel:
        row = await update_listing(
            kind, effects, session, settings, principal, listing_id, data, if_match
        )
        return answer(response, row, partial(schemas.view, viewer=principal.organization_id))

    router.add_api_route(
        "/{" + noun + "_id}",
        _reads_body(update, schemas.update),
        methods=["PATCH"],
        name=f"update_{noun}",
        response_model=schemas.full,
        summary=texts.update.summary,
        description=texts.update.description,
        responses=problems(*AUTHENTICATED, 400, 403, 412, 413, 422, says=refused),
    )

    async def delete(
        listing_id: ListingId,
        principal: CurrentPrincipal,
        session: Session,
        if_match: IfMatch = None,
    ) -> None:
        await delete_listing(kind, effects, session, principal, listing_id, if_match)

    router.add_api_route(
        "/{" + noun + "_id}",
        delete,
        methods=["DELETE"],
        name=f"delete_{noun}",
        status_code=status.HTTP_204_NO_CONTENT,
        summary=texts.delete.summary,
        description=texts.delete.description,
        responses=problems(*AUTHENTICATED, 403, 412, 422, says=refused),
    )
    return router
