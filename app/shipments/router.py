import uuid

from fastapi import APIRouter, Request, Response, status

from app.auth import CurrentPrincipal
from app.gateway.idempotency import IdempotencyKey
from app.kit.etag import IfMatch
from app.kit.owned import answer
from app.kit.pagination import Page, creation_key, page_links
from app.kit.problem_docs import AUTHENTICATED, WRITE, problems
from app.kit.request_session import Session
from app.settings import AppSettings
from app.shipments import service
from app.shipments.schemas import (
    Shipment,
    ShipmentCreate,
    ShipmentPage,
    ShipmentPatch,
    shipment_view,
)

router = APIRouter(prefix="/v1/shipments", tags=["logistics"])

_NOT_YOURS = "No shipment of yours has this id (another organization's answers so too)"
_PLANS_KEEP_THEIR_COPY = (
    "A route plan copies the shipments it uses when it is asked for: the plans already asked "
    "for, queued, running or done, keep the shipment as it was."
)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    dependencies=[IdempotencyKey],
    summary="Post a transport job",
    description="A load to carry from a pickup to a delivery within their windows, for route "
    "plans to name in `shipment_ids` (roles carrier, hub_operator, supplier or consumer). "
    "Answers 201 with the shipment, its `Location` and its `ETag`; 422 names each field that "
    "breaks a rule, a site that is not yours too. To ship an accepted match, use POST "
    "/v1/matches/{id}/shipment.",
    responses=problems(*AUTHENTICATED, *WRITE, 403),
)
async def create_shipment(
    data: ShipmentCreate,
    principal: CurrentPrincipal,
    session: Session,
    settings: AppSettings,
    response: Response,
) -> Shipment:
    row = await service.create_shipment(session, settings, principal, data)
    response.headers["Location"] = f"/v1/shipments/{row.id}"
    return answer(response, row, shipment_view)


@router.get(
    "",
    summary="Your shipments, oldest first",
    description="Your organization's shipments, posted or taken from matches, oldest first, a "
    "page at a time: follow the `next` link while there is one. Other organizations' "
    "shipments are never listed.",
    responses=problems(*AUTHENTICATED, 422),
)
async def list_shipments(
    request: Request, principal: CurrentPrincipal, session: Session, page: Page
) -> ShipmentPage:
    rows = await service.list_shipments(session, principal, page)
    return ShipmentPage(
        items=[shipment_view(s) for s in rows],
        links=page_links(request, page, rows, creation_key),
    )


@router.get(
    "/{shipment_id}",
    summary="One of your shipments",
    description="The shipment with its `ETag`, to send as `If-Match` with a PATCH or DELETE. "
    "Another organization's shipment answers 404, as a missing one does.",
    responses=problems(*AUTHENTICATED, 404, 422, says={404: _NOT_YOURS}),
)
async def read_shipment(
    shipment_id: uuid.UUID, principal: CurrentPrincipal, session: Session, response: Response
) -> Shipment:
    return answer(
        response, await service.get_shipment(session, principal, shipment_id), shipment_view
    )


@router.patch(
    "/{shipment_id}",
    summary="Change one of your shipments (send `If-Match` with its ETag)",
    description="Changes the fields sent; `pickup` and `delivery` are replaced whole. The "
    "shipment after the change follows the rules of a create, and a patch that breaks one "
    "answers 422 and changes nothing. A shipment taken from a match keeps its match. With "
    "`If-Match` (the ETag of the GET), a shipment changed since answers 412. Answers the "
    f"shipment and its new `ETag`. {_PLANS_KEEP_THEIR_COPY}",
    responses=problems(*AUTHENTICATED, 400, 404, 412, 413, 422, says={404: _NOT_YOURS}),
)
async def update_shipment(
    shipment_id: uuid.UUID,
    patch: ShipmentPatch,
    principal: CurrentPrincipal,
    session: Session,
    settings: AppSettings,
    response: Response,
    if_match: IfMatch = None,
) -> Shipment:
    row = await service.update_shipment(session, settings, principal, shipment_id, patch, if_match)
    return answer(response, row, shipment_view)


@router.delete(
    "/{shipment_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Withdraw one of your shipments",
    description="Deletes the shipment: 204, and new route plans can no longer name it. A "
    "shipment that a hub movement names (a yard's dispatch it took away) answers 409 and "
    "stays; with `If-Match`, one changed since that read answers 412. Deleting a match's "
    f"shipment leaves the match as it is. {_PLANS_KEEP_THEIR_COPY}",
    responses=problems(
        *AUTHENTICATED,
        404,
        409,
        412,
        422,
        says={404: _NOT_YOURS, 409: "A hub movement names this shipment: it stays"},
    ),
)
async def delete_shipment(
    shipment_id: uuid.UUID, principal: CurrentPrincipal, session: Session, if_match: IfMatch = None
) -> None:
    await service.delete_shipment(session, principal, shipment_id, if_match)
