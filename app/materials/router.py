from typing import Annotated

from fastapi import APIRouter, Query, Request

from app.auth import CurrentPrincipal
from app.dependencies import Session
from app.errors import PROBLEM_RESPONSES
from app.kit.pagination import Page, page_links
from app.materials import service
from app.materials.schemas import Material, MaterialPage

router = APIRouter(
    prefix="/v1/materials",
    tags=["materials"],
    responses=PROBLEM_RESPONSES,
)


@router.get("", summary="The European List of Waste (EWC codes)")
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
    chapter: Annotated[str | None, Query(pattern=r"^\d{2}$")] = None,
    subchapter: Annotated[str | None, Query(pattern=r"^\d{4}$")] = None,
    hazardous: bool | None = None,
) -> MaterialPage:
    rows = await service.list_materials(session, page, q, chapter, subchapter, hazardous)
    return MaterialPage(
        items=[Material.model_validate(r, from_attributes=True) for r in rows],
        links=page_links(request, page, rows, lambda row: (row.code,)),
    )


@router.get("/{code}", summary="One EWC code")
async def read_material(code: str, _: CurrentPrincipal, session: Session) -> Material:
    return Material.model_validate(await service.get_material(session, code), from_attributes=True)
