from typing import Annotated

from fastapi import APIRouter, Query

from app.auth import CurrentPrincipal
from app.geocoding import service
from app.geocoding.schemas import GeocodeResult
from app.kit.problem_docs import AUTHENTICATED, problems
from app.kit.request_session import Session

router = APIRouter(prefix="/v1/geocode", tags=["geocoding"])


@router.get(
    "",
    summary="Check a Brussels address",
    description='Reads a free-text address of the Region ("Rue Neuve 111, 1000 Bruxelles", '
    '"Nieuwstraat 111 1000 Brussel", "111 rue neuve": French or Dutch, with or without '
    "accents, postcode or commune, `Av.`, `Bd`, `Chée`, `str.` written out) and answers the "
    "place it means: a point (GeoJSON, [lon, lat]) and its `precision`: `house_number` "
    "(the door), `interpolated` (between the known doors of its side of the street), `street` "
    "(the street's middle: the number is not known on it, or none was given) or `postcode`. A postcode narrows the search to its streets: a street of the same "
    "name in another commune ranks lower.\n\n"
    "An address that matches nothing well is not an error: the answer is 200 with `match` "
    "null (or the postcode's point, when only the postcode is known), `needs_attention` true "
    'and up to 5 `suggestions` to offer as "did you mean". Below street precision, a '
    "delivery needs someone to check the address. A `q` that names no street and no postcode "
    "answers 422 with the rule `address` on `q`.\n\n"
    "Streets and house numbers are OpenStreetMap's as of 2013 (© OpenStreetMap contributors, "
    "ODbL): a newer building's number may be unknown, and answers street precision.",
    responses=problems(*AUTHENTICATED, 422),
)
async def geocode(
    _: CurrentPrincipal,
    session: Session,
    q: Annotated[
        str,
        Query(
            min_length=1,
            max_length=200,
            description="The address, as a customer wrote it.",
            examples=["Rue Neuve 111, 1000 Bruxelles"],
        ),
    ],
) -> GeocodeResult:
    return await service.geocode(session, q)
