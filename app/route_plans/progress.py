"""What a running plan says of itself: its phase (measuring the road distances, searching,
drawing the routes along the streets), when the phase began, while searching how long the
search may take, and the best plan the engines have found so far. Written by the attempt in
transactions of their own, so that a poll sees them while the attempt's own transaction is
still open."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.models import RoutePlan
from logistics.progress import Improvement

# The engines report a better plan up to twice a second each; a poll needs no more than this.
BEST_PLAN_WRITE_INTERVAL_S = 1.0


class ProgressWriter:
    """One attempt's progress, as it goes."""

    def __init__(
        self, sessionmaker: async_sessionmaker[AsyncSession], plan_id: uuid.UUID, attempt: int
    ) -> None:
        self.sessionmaker, self.plan_id, self.attempt = sessionmaker, plan_id, attempt
        self._phase: dict[str, Any] = {}
        self._best: Improvement | None = None
        self._best_view: dict[str, Any] | None = None
        self._written = asyncio.Lock()
        self._best_changed = asyncio.Event()

    async def phase(self, phase: str, **details: Any) -> None:
        self._phase = {"phase": phase, "phase_started_at": datetime.now(UTC).isoformat(), **details}
        await self._write()

    def found(self, improvement: Improvement) -> None:
        """An engine's better plan (from the search's process, on the event loop)."""
        if self._best is None or improvement.rank < self._best.rank:
            self._best = improvement
            self._best_view = {
                "vehicles": improvement.vehicles,
                "km": round(improvement.distance / 1000, 1),
                "unassigned": improvement.unassigned,
                "engine": improvement.engine,
                "compared_plan": improvement.compared_plan or None,
                "found_at": datetime.now(UTC).isoformat(),
            }
            self._best_changed.set()

    @asynccontextmanager
    async def writing_best_plans(self) -> AsyncIterator[None]:
        """While searching: the best plan so far, written as it changes, at most once every
        `BEST_PLAN_WRITE_INTERVAL_S`."""
        writer = asyncio.create_task(self._write_best_plans())
        try:
            yield
        finally:
            writer.cancel()
            await asyncio.gather(writer, return_exceptions=True)

    async def _write_best_plans(self) -> None:
        while True:
            await self._best_changed.wait()
            self._best_changed.clear()
            await self._write()
            await asyncio.sleep(BEST_PLAN_WRITE_INTERVAL_S)

    async def _write(self) -> None:
        progress = {**self._phase, "best_so_far": self._best_view}
        async with self._written, self.sessionmaker.begin() as session:
            await session.execute(
                update(RoutePlan)
                .where(RoutePlan.id == self.plan_id, RoutePlan.attempts == self.attempt)
                .values(progress=progress)
            )
