"""A match fulfilled: the material has changed hands, by a dispatch, an intake or either side."""

from datetime import UTC, datetime

from app.matches.schemas import MatchStatus
from app.models import Match


def fulfil(match: Match) -> None:
    """Marks it fulfilled, with the moment the statistics count it at."""
    match.status = MatchStatus.fulfilled.value
    match.fulfilled_at = datetime.now(UTC)
