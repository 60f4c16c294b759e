from typing import Annotated

from fastapi import APIRouter, Path, Query, Request

from app.auth import CurrentPrincipal
from app.kit.pagination import Page, page_links
from app.kit.problem_docs import AUTHENTICATED, problems
from app.kit.request_session import Session
from app.materials import service
from app.materials.schemas import Material, MaterialPage

router = APIRouter(prefix="/v1/materials", tags=["materials"])


@router.get(
    "",
    summary="The European List of Waste (EWC codes)",
    description="The List's entries by code: all of them, or those whose code starts with "
    "`q` or whose description or titles contain its words, of one chapter or sub-chapter, "
    "hazardous or not. A full page has a `next` link. `material` fields of offers and "
    "requests take these codes.",
    responses=problems(*AUTHENTICATED, 422),
)
async def list_materials(
    request: Request,
    _: CurrentPrincipal,
    session: Session,
    page: Page,
    q: Annotated[
        str | None,
        Query(
            max_length=200,
            description="Words of the description or titles, or the start of a code.",
        ),
    ] = None,
    chapter: Annotated[
        str | None, Query(pattern=r"^\d{2}$", description="Only this 2-digit chapter, e.g. 17.")
    ] = None,
    subchapter: Annotated[
        str | None,
        Query(pattern=r"^\d{4}$", description="Only this 4-digit sub-chapter, e.g. 1705."),
    ] = None,
    hazardous: Annotated[
        bool | None, Query(description="Only the hazardous entries (true) or the others.")
    ] = None,
) -> MaterialPage:
    rows = await service.list_materials(session, page, q, chapter, subchapter, hazardous)
    return MaterialPage(
        items=[Material.model_validate(r, from_attributes=True) for r in rows],
        links=page_links(request, page, rows, lambda row: (row.code,)),
    )


@router.get(
    "/{code}",
    summary="One EWC code",
    description="One entry of the List, by its code as written anywhere: `170504`, "
    "`17 05 04` and `17 05 04*` name the same one.",
    responses=problems(
        *AUTHENTICATED, 422, says={404: "No such code in the European List of Waste."}
    ),
)
async def read_material(
    code: Annotated[str, Path(description="An EWC code, e.g. 170504.")],
    _: CurrentPrincipal,
    session: Session,
) -> Material:
    return Material.model_validate(await service.get_material(session, code), from_attributes=True)
