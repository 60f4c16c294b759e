"""A match fulfilled: the material has changed hands, by a yard's dispatch or intake, or as
either side records it (app/matches/service.py). It lies with the yards, below the matches,
so that both reach it."""

from datetime import UTC, datetime

from app.models import Match


def fulfil(match: Match) -> None:
    """Marks it fulfilled (`MatchStatus.fulfilled`), with the moment the statistics count it
    at."""
    match.status = "fulfilled"
    match.fulfilled_at = datetime.now(UTC)
