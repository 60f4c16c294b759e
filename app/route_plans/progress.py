"""What a running plan says of itself: its phase (measuring the road distances, searching,
drawing the routes along the streets), when the phase began and, while searching, how long the
search may take. Written by the attempt in a transaction of its own, so that a poll sees it
while the attempt's own transaction is still open."""

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.models import RoutePlan

ReportPhase = Callable[..., Awaitable[None]]


def phase_reporter(
    sessionmaker: async_sessionmaker[AsyncSession], plan_id: uuid.UUID, attempt: int
) -> ReportPhase:
    async def report(phase: str, **details: Any) -> None:
        progress = {"phase": phase, "phase_started_at": datetime.now(UTC).isoformat(), **details}
        async with sessionmaker() as session:
            await session.execute(
                update(RoutePlan)
                .where(RoutePlan.id == plan_id, RoutePlan.attempts == attempt)
                .values(progress=progress)
            )
            await session.commit()

    return report
