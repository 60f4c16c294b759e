import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel

from app.auth import CurrentPrincipal
from app.candidates import service
from app.candidates.schemas import OfferCandidates, RequestCandidates
from app.kit.pagination import MAX_PAGE_SIZE
from app.kit.problem_docs import AUTHENTICATED, problems
from app.kit.request_session import Session
from matching import scoring
from matching.scoring import Candidate

router = APIRouter(tags=["matching"])
Limit = Annotated[
    int, Query(ge=1, le=MAX_PAGE_SIZE, description="How many candidates, best first: 1 to 500.")
]
_RANKING = (
    "Candidates are the open listings of other organizations that fit: same EWC code or "
    "inside the requested sub-chapter or chapter (hazardous codes only when named exactly), "
    "overlapping windows, at least the requested condition, within the request's "
    "max_distance_km, at least the offer's min lot, and enough to match a thousandth of each "
    "side's unit. Each comes with its distance, the quantity it could supply, its CO2e and a "
    "score whose parts are shown; a listing of your own is never a candidate. Any "
    "organization may ask, for any listing: listings are public.\n\n"
)


def _fields(candidate: Candidate) -> dict[str, Any]:
    parts = candidate.parts
    return {
        "distance_m": round(candidate.pair.distance_m, 1),
        "quantity": {"value": round(candidate.quantity, 3), "unit": candidate.pair.request_unit},
        "mass_kg": None if candidate.mass_kg is None else round(candidate.mass_kg, 1),
        "co2_kg": round(candidate.co2_kg, 3),
        "score": {
            "total": round(candidate.score, 4),
            **{name: round(getattr(parts, name), 4) for name in scoring.WEIGHTS},
            # Given, not left to the field's default: pydantic deep-copies a default dict for
            # each item it validates.
            "weights": scoring.WEIGHTS,
        },
    }


def _answer(schema: type[BaseModel], content: dict[str, Any]) -> Response:
    """`content` validated once, as `schema`, and written by pydantic: returning the model would
    have FastAPI dump it, validate the dump again and serialize that, three passes over every
    candidate and its listing."""
    return Response(schema.model_validate(content).model_dump_json(), media_type="application/json")


@router.get(
    "/v1/requests/{request_id}/candidates",
    summary="Open offers that can serve this request, best first",
    description=_RANKING + (scoring.__doc__ or ""),
    responses=problems(*AUTHENTICATED, 422, says={404: "No request with this id."}),
    response_model=OfferCandidates,
)
async def request_candidates(
    request_id: uuid.UUID, principal: CurrentPrincipal, session: Session, limit: Limit = 20
) -> Response:
    ranked = await service.candidates_for_request(session, principal, request_id, limit)
    return _answer(
        OfferCandidates,
        {
            "request_id": str(request_id),
            "items": [{**_fields(c), "offer": offer} for c, offer in ranked],
        },
    )


@router.get(
    "/v1/offers/{offer_id}/candidates",
    summary="Open requests this offer can serve, best first",
    description=_RANKING + (scoring.__doc__ or ""),
    responses=problems(*AUTHENTICATED, 422, says={404: "No offer with this id."}),
    response_model=RequestCandidates,
)
async def offer_candidates(
    offer_id: uuid.UUID, principal: CurrentPrincipal, session: Session, limit: Limit = 20
) -> Response:
    ranked = await service.candidates_for_offer(session, principal, offer_id, limit)
    return _answer(
        RequestCandidates,
        {
            "offer_id": str(offer_id),
            "items": [{**_fields(c), "request": request} for c, request in ranked],
        },
    )
