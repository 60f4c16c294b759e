"""The quota of concurrent jobs of an organization: its route plans and matching runs queued
or running, counted together, so that one organization cannot fill every worker."""

import math
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import Row, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.problems import TooManyRequests
from app.models import MatchingRun, RoutePlan
from app.settings import Settings

ACTIVE_STATUSES = ("queued", "running")
# When nothing says when a slot frees (a matching run has no time limit; a plan past its own
# is computing its figures or road geometries), a retry this soon is a fair guess.
FEW_SECONDS = 5

_LOCK_ORGANIZATION_JOBS = text("SELECT pg_advisory_xact_lock(hashtext(:key))")


async def reserve_job_slot(
    session: AsyncSession, settings: Settings, organization_id: uuid.UUID
) -> None:
    """Answers 429 when the organization already has its quota of jobs queued or running.
    Call it in the transaction that adds the job's row: the lock on the organization is held
    until that transaction ends, so concurrent requests count one after the other and cannot
    all pass on the same count."""
    await session.execute(_LOCK_ORGANIZATION_JOBS, {"key": f"jobs:{organization_id}"})
    plans = (
        await session.execute(
            select(RoutePlan.status, RoutePlan.started_at, RoutePlan.time_limit_s).where(
                RoutePlan.organization_id == organization_id,
                RoutePlan.status.in_(ACTIVE_STATUSES),
            )
        )
    ).all()
    runs = await session.scalar(
        select(func.count())
        .select_from(MatchingRun)
        .where(
            MatchingRun.organization_id == organization_id,
            MatchingRun.status.in_(ACTIVE_STATUSES),
        )
    )
    active = len(plans) + (runs or 0)
    limit = settings.max_active_jobs_per_organization
    if active < limit:
        return
    retry_after_s = _seconds_until_a_slot_frees(plans, has_runs=bool(runs))
    jobs = "plan or matching run" if active == 1 else "plans or matching runs"
    raise TooManyRequests(
        f"Your organization has {active} {jobs} queued or running, and may have at most "
        f"{limit} at once; try again in about {retry_after_s} s.",
        retry_after_s,
        max_active_jobs=limit,
    )


def _seconds_until_a_slot_frees(
    plans: Sequence[Row[str, datetime | None, float]], *, has_runs: bool
) -> int:
    """The soonest one of the jobs should end: a running plan at its start plus its time
    limit, a queued one no sooner than its time limit once a worker takes it."""
    now = datetime.now(UTC)
    ends = [
        (started_at + timedelta(seconds=time_limit_s) - now).total_seconds()
        if status == "running" and started_at is not None
        else time_limit_s
        for status, started_at, time_limit_s in plans
    ]
    if has_runs:
        ends.append(FEW_SECONDS)
    return max(1, math.ceil(min((end for end in ends if end > 0), default=FEW_SECONDS)))
