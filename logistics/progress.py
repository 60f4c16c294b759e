"""What a search says while it runs: each plan an engine finds that ranks better than the last
it reported, by the problem's own objective, as small plain data that crosses processes.

The engines find hundreds of better plans a second at first, and turning one into routes
costs more than finding it, so a plan found is kept as a function that builds it and built
at most once every `REPORT_INTERVAL_S`, or when the engine ends."""

import time
from collections.abc import Callable
from dataclasses import dataclass

from logistics.model import Problem, Solution
from logistics.objective import rank, total_distance

REPORT_INTERVAL_S = 0.5


@dataclass(frozen=True)
class Improvement:
    engine: str
    vehicles: int
    # In the problem's distance unit.
    distance: int
    unassigned: int
    # `logistics.objective.rank` of the plan: the smaller the better.
    rank: tuple[int, int, float]
    # In a two-tier search, which of the plans compared it belongs to.
    compared_plan: str = ""


Sink = Callable[[Improvement], None]


def _nowhere(_: Improvement) -> None:
    return None


class ImprovementReporter:
    """One engine's better plans, for `sink`; with no sink they are built and ranked all the
    same, so that a search reported on does the same work as one that is not."""

    def __init__(self, problem: Problem, engine: str, sink: Sink | None = None) -> None:
        self.problem, self.engine, self.sink = problem, engine, sink or _nowhere
        self._best: tuple[int, int, float] | None = None
        self._pending: Callable[[], Solution] | None = None
        self._built_at = float("-inf")

    def found(self, build: Callable[[], Solution]) -> None:
        """The engine found a plan better than its last by its own measure."""
        self._pending = build
        self.tick()

    def tick(self) -> None:
        """Builds the last plan found once the interval since the last build has passed; for
        engines to call as they go."""
        if self._pending is not None and time.monotonic() - self._built_at >= REPORT_INTERVAL_S:
            self.flush()

    def flush(self) -> None:
        build, self._pending = self._pending, None
        if build is None:
            return
        self._built_at = time.monotonic()
        plan = build()
        plan_rank = rank(self.problem, plan)
        if self._best is not None and plan_rank >= self._best:
            return
        self._best = plan_rank
        self.sink(
            Improvement(
                self.engine,
                len(plan.routes),
                total_distance(plan.routes),
                len(plan.unassigned),
                plan_rank,
            )
        )
