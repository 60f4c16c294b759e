from typing import Annotated

from fastapi import APIRouter, Path

from app.auth import CurrentPrincipal
from app.districts import service
from app.districts.schemas import DistrictFeature, DistrictFeatureCollection
from app.kit.geo import GeoJSONResponse
from app.kit.problem_docs import AUTHENTICATED, problems
from app.kit.request_session import Session
from app.kit.spatial import Near

router = APIRouter(prefix="/v1/districts", tags=["districts"])

SLUG_PATTERN = r"^[a-z0-9]+(-[a-z0-9]+)*$"


@router.get(
    "",
    response_class=GeoJSONResponse,
    response_model=DistrictFeatureCollection,
    summary="The shopping districts, as GeoJSON",
    description="Every shopping district of the Region as a GeoJSON FeatureCollection "
    "(`application/geo+json`), by name: the outline of a cluster of shops of the OpenStreetMap "
    "extract, named after the street most of them face, with its commune and how many shops "
    "it holds. With `near`, nearest first (0 m: the point lies in it), each with its "
    "`distance_m`, and within `radius_km` of it when given. The shared cargo-bike rounds "
    "(COMM 12) serve them. Any organization may read them. © OpenStreetMap contributors (ODbL).",
    responses=problems(*AUTHENTICATED, 422),
)
async def list_districts(_: CurrentPrincipal, session: Session, near: Near) -> GeoJSONResponse:
    return GeoJSONResponse(await service.list_districts(session, near))


@router.get(
    "/{slug}",
    response_class=GeoJSONResponse,
    response_model=DistrictFeature,
    summary="One shopping district, as GeoJSON",
    description="The district with this slug as a GeoJSON Feature (`application/geo+json`). "
    "A slug stays the same each time the districts are derived from the same extract.",
    responses=problems(*AUTHENTICATED, 422, says={404: "No shopping district has this slug."}),
)
async def read_district(
    slug: Annotated[
        str,
        Path(
            max_length=120,
            pattern=SLUG_PATTERN,
            description="The district's slug: lower-case words and digits joined by hyphens.",
            examples=["rue-neuve-nieuwstraat"],
        ),
    ],
    _: CurrentPrincipal,
    session: Session,
) -> GeoJSONResponse:
    return GeoJSONResponse(await service.get_district(session, slug))
