"""The European List of Waste: lookups and the rule for what a `material` field may name."""

import re

from sqlalchemy import exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.pagination import Keyset, PageParams, keyset_page
from app.kit.problems import NotFound, ValidationFailed
from app.models import Material

_CODE = re.compile(r"^\d{6}$")
_CODE_OR_GROUP = re.compile(r"^(\d{2}|\d{4}|\d{6})$")
BY_CODE = Keyset((Material.code,), (str,))


def normalise_code(value: str) -> str:
    """`17 05 04*`, `17.05.04` and `170504` all name 170504."""
    return re.sub(r"[\s.*]", "", value)


async def list_materials(
    session: AsyncSession,
    page: PageParams,
    q: str | None,
    chapter: str | None,
    subchapter: str | None,
    hazardous: bool | None,
) -> list[Material]:
    query = select(Material)
    if q:
        pattern = f"%{q}%"
        query = query.where(
            or_(
                Material.code.startswith(normalise_code(q) or q),
                Material.description.ilike(pattern),
                Material.subchapter_title.ilike(pattern),
                Material.chapter_title.ilike(pattern),
            )
        )
    if chapter:
        query = query.where(Material.chapter == chapter)
    if subchapter:
        query = query.where(Material.subchapter == subchapter)
    if hazardous is not None:
        query = query.where(Material.hazardous.is_(hazardous))
    return list((await session.scalars(keyset_page(query, BY_CODE, page))).all())


async def get_material(session: AsyncSession, code: str) -> Material:
    material = await session.get(Material, normalise_code(code))
    if material is None:
        raise NotFound(f"{code} is not a code of the European List of Waste.")
    return material


async def check_offer_material(session: AsyncSession, value: str, field: str = "material") -> str:
    """An offer names one 6-digit EWC code that exists."""
    code = normalise_code(value)
    if not _CODE.match(code):
        raise ValidationFailed.field(
            field, "ewc_code", "An offer names one 6-digit EWC code, e.g. 170504."
        )
    if await session.get(Material, code) is None:
        raise ValidationFailed.field(
            field, "ewc_code_exists", f"{code} is not in the European List of Waste."
        )
    return code


async def check_request_material(session: AsyncSession, value: str, field: str = "material") -> str:
    """A request names a 6-digit code, a 4-digit sub-chapter or a 2-digit chapter that exists."""
    code = normalise_code(value)
    if not _CODE_OR_GROUP.match(code):
        raise ValidationFailed.field(
            field,
            "ewc_code_or_group",
            "Name a 6-digit EWC code (170504), a 4-digit sub-chapter (1705) or a 2-digit chapter (17).",
        )
    if not await session.scalar(select(exists().where(Material.code.startswith(code)))):
        raise ValidationFailed.field(
            field, "ewc_code_exists", f"{code} is not in the European List of Waste."
        )
    return code
