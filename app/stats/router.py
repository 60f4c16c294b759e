from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request, Response

from app.auth import CurrentPrincipal
from app.kit.geo import GEOJSON_MEDIA_TYPE
from app.kit.problem_docs import AUTHENTICATED, problems
from app.kit.problems import ValidationFailed
from app.kit.request_session import Session
from app.stats import service
from app.stats.formats import CSV_MEDIA_TYPE
from app.stats.kept import KeptAnswers, kept_answers
from app.stats.months import MAX_MONTHS
from app.stats.schemas import (
    SUPPRESSION_RULE,
    Dimension,
    FlowStats,
    MaterialLevel,
    StatsFormat,
)

router = APIRouter(prefix="/v1/stats", tags=["statistics"])

DESCRIPTION = f"""
Aggregated flows for the Region (roles `admin` or `observer`), **one month per cell**: tonnes
offered, requested, proposed, accepted and fulfilled; yard and hub intake and dispatch; the km
of the route plans done by vehicle type, their CO2e, their baselines' (each shipment alone in a
van) and the saving.

* `from` and `to` are months, `YYYY-MM` (Brussels time), both by default the last month that
  has ended; only months that have ended are published (at most {MAX_MONTHS} at a time). A
  month is computed the first time it is read (or early on the 1st of the next month) and
  then never changes: later changes to its rows, or rows dated in it later, are not counted.
* `group_by`: `month` always, and any of `material` (EWC chapter, or sub-chapter with
  `material_level=subchapter`; a request that names a chapter alone is under its chapter's
  code there) and `commune` (the 19 communes, by NIS code), comma-separated.
* A listing counts in the month it was posted, a match in the month it was proposed,
  accepted or fulfilled, a movement in its month, a route plan in its date's.
* A match counts in the commune and the material of its offer: where the material leaves.
  Route plans carry mixed loads across communes: their figures are in the cell whose
  `material` and `commune` are null.
* Tonnes are those of the rows whose mass is known (given, or derived from kg and t).
* **Figures that could tell a company's volumes are hidden** (null, an empty CSV field, named
  in the cell's `suppressed`): {SUPPRESSION_RULE} Every grouping, and the open data's
  `ogc.communes`, read one decision per month.
* JSON by default; `text/csv` with `Accept: text/csv` or `format=csv`; GeoJSON (each commune's
  polygon with its figures) with `Accept: application/geo+json` or `format=geojson`, when
  grouped by commune.
"""


def _format(asked: StatsFormat | None, accept: str | None) -> StatsFormat:
    if asked is not None:
        return asked
    accepted = (accept or "").lower()
    if CSV_MEDIA_TYPE in accepted:
        return StatsFormat.csv
    if GEOJSON_MEDIA_TYPE in accepted:
        return StatsFormat.geojson
    return StatsFormat.json


@router.get(
    "/flows",
    summary="The Region's flows and savings by material, commune and month",
    description=DESCRIPTION,
    response_model=FlowStats,
    responses={
        200: {
            "description": "The cells, as JSON, CSV (a row a cell, a column a figure) or "
            "GeoJSON (a feature a cell, on its commune).",
            "content": {
                CSV_MEDIA_TYPE: {"schema": {"type": "string"}},
                GEOJSON_MEDIA_TYPE: {
                    "schema": {"$ref": "#/components/schemas/FlowFeatureCollection"}
                },
            },
        },
        **problems(
            *AUTHENTICATED,
            403,
            422,
            says={403: "Your organization has neither the role admin nor the role observer"},
        ),
    },
)
async def read_flows(
    request: Request,
    principal: CurrentPrincipal,
    session: Session,
    kept: Annotated[KeptAnswers, Depends(kept_answers)],
    group_by: Annotated[
        str,
        Query(
            max_length=40,
            description="Comma-separated: material, commune (month is always grouped by).",
            examples=["commune"],
        ),
    ] = "",
    material_level: Annotated[
        MaterialLevel, Query(description="How finely `material` groups.")
    ] = MaterialLevel.chapter,
    since: Annotated[
        str | None,
        Query(
            alias="from",
            max_length=7,
            description="The first month counted, YYYY-MM; by default `to`.",
            examples=["2026-01"],
        ),
    ] = None,
    until: Annotated[
        str | None,
        Query(
            alias="to",
            max_length=7,
            description="The last month counted, YYYY-MM, ended in Brussels; by default the "
            "last month that has ended.",
            examples=["2026-11"],
        ),
    ] = None,
    format: Annotated[StatsFormat | None, Query(description="Overrides the Accept header.")] = None,
    accept: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Response:
    dimensions = service.parse_group_by(group_by)
    answer = _format(format, accept)
    if answer is StatsFormat.geojson and Dimension.commune not in dimensions:
        raise ValidationFailed.field(
            "group_by",
            "commune_for_geojson",
            "GeoJSON places each cell on its commune: group_by must include commune.",
            "query",
        )
    written = await service.flow_answer(
        session,
        request.app.state.autocommit_engine,
        principal,
        dimensions,
        material_level,
        since,
        until,
        answer,
        kept,
    )
    return Response(written.body, media_type=written.media_type)
