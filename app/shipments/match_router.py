"""The shipment of an accepted match, posted under the match (`/v1/matches/{id}/shipment`):
the shipments lie above the matches, so the route lives here, with the matching tag."""

import uuid

from fastapi import APIRouter, Response, status

from app.auth import CurrentPrincipal
from app.gateway.idempotency import IdempotencyKey
from app.kit.owned import answer
from app.kit.problem_docs import AUTHENTICATED, WRITE, problems
from app.kit.request_session import Session
from app.shipments.schemas import MatchShipmentCreate, Shipment, shipment_view
from app.shipments.service import shipment_from_match

router = APIRouter(prefix="/v1/matches", tags=["matching"])
_NO_MATCH = {404: "No match with this id that your organization stands on a side of."}


@router.post(
    "/{match_id}/shipment",
    status_code=status.HTTP_201_CREATED,
    dependencies=[IdempotencyKey],
    summary="Create the shipment of an accepted match (either side)",
    description="A shipment from the offer's place to the request's, with the match's load, "
    "for route planning; 201 with it and its `Location`. Needs the carrier, supplier, consumer "
    "or hub_operator role (403). A match that is not accepted answers 409; one whose mass is "
    "unknown needs `load_kg` (422 `known_mass`).",
    responses=problems(
        *AUTHENTICATED,
        *WRITE,
        403,
        says={
            **_NO_MATCH,
            409: "The match is not accepted, or an Idempotency-Key reused with another body.",
        },
    ),
)
async def ship_match(
    match_id: uuid.UUID,
    data: MatchShipmentCreate,
    principal: CurrentPrincipal,
    session: Session,
    response: Response,
) -> Shipment:
    row = await shipment_from_match(session, principal, match_id, data)
    response.headers["Location"] = f"/v1/shipments/{row.id}"
    return answer(response, row, shipment_view)
