"""A match as its sides read it: with what yards' movements delivered of it, summed from the
movements themselves, so that the match and the yards' books cannot tell two stories."""

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from app.hubs.repository import match_deliveries
from app.matches.schemas import Match, match_view
from app.models import Match as MatchRow


async def match_views(session: AsyncSession, rows: Sequence[MatchRow]) -> list[Match]:
    deliveries = await match_deliveries(session, [row.id for row in rows])
    return [match_view(row, deliveries[row.id].delivered) for row in rows]


async def one_match_view(session: AsyncSession, row: MatchRow) -> Match:
    [view] = await match_views(session, [row])
    return view
