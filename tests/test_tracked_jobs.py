"""How a tracked job's row tells its user what happened to each attempt, on a real database:
back to the queue when interrupted, failed with a plain sentence (never the SQL) otherwise,
and a statement deadline that stops a query that runs too long."""

import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.jobs.queue import JobInterrupted
from app.jobs.tracked import JobFailure, run_tracked
from app.kit.statement_deadline import DeadlinePassed, statement_deadline
from app.models import RoutePlan
from app.route_plans.service import PLAN_JOB
from tests.conftest import OrgFactory, point

DAY = "2026-12-03"
PLACE = [4.3467, 50.8660]


async def queued_plan(client: httpx.AsyncClient, make_org: OrgFactory) -> tuple[str, Any]:
    carrier = await make_org("carrier")
    window = {"window_from": f"{DAY}T08:00:00+01:00", "window_until": f"{DAY}T17:00:00+01:00"}
    started = await client.post(
        "/v1/route-plans",
        json={
            "date": DAY,
            "vehicles": [{"name": "Bike", "type": "cargo_bike", "start": point(PLACE)}],
            "shipments": [
                {
                    "pickup": {"location": point(PLACE), **window},
                    "delivery": {"location": point([4.35, 50.85]), **window},
                    "load_kg": 5,
                }
            ],
            "time_limit_s": 0.5,
        },
        headers=carrier.headers,
    )
    assert started.status_code == 202, started.text
    return started.headers["location"], carrier


async def plan_row(app: FastAPI, location: str) -> RoutePlan:
    async with app.state.sessionmaker() as session:
        row: RoutePlan = await session.get_one(RoutePlan, uuid.UUID(location.rsplit("/", 1)[1]))
        return row


async def attempt(app: FastAPI, location: str, number: int, raised: BaseException) -> None:
    async def work(session: AsyncSession, row: Any) -> None:
        await session.execute(text("SELECT 1"))
        raise raised

    plan_id = uuid.UUID(location.rsplit("/", 1)[1])
    with pytest.raises(type(raised)):
        await run_tracked(app.state.sessionmaker, PLAN_JOB, plan_id, number, 3, work)


async def test_an_interrupted_attempt_goes_back_to_the_queue_until_the_last(
    app: FastAPI, client: httpx.AsyncClient, make_org: OrgFactory
) -> None:
    location, _ = await queued_plan(client, make_org)
    for number in (1, 2):
        await attempt(app, location, number, JobInterrupted("ran out of memory (more than 1 MB)"))
        row = await plan_row(app, location)
        assert (row.status, row.attempts, row.error) == ("queued", number, None)
    await attempt(app, location, 3, JobInterrupted("ran out of memory (more than 1 MB)"))
    row = await plan_row(app, location)
    assert (row.status, row.attempts) == ("failed", 3)
    assert (
        row.error
        == "The planner stopped 3 times; the last attempt ran out of memory (more than 1 MB)."
    )


async def test_a_failed_attempt_says_why_in_a_sentence_and_never_shows_the_sql(
    app: FastAPI, client: httpx.AsyncClient, make_org: OrgFactory
) -> None:
    location, carrier = await queued_plan(client, make_org)

    async def work(session: AsyncSession, row: Any) -> None:
        await session.execute(text("SELECT secret_column FROM no_such_table"))

    plan_id = uuid.UUID(location.rsplit("/", 1)[1])
    with pytest.raises(Exception, match="no_such_table"):
        await run_tracked(app.state.sessionmaker, PLAN_JOB, plan_id, 1, 3, work)
    plan = (await client.get(location, headers=carrier.headers)).json()
    assert plan["status"] == "failed" and plan["attempts"] == 1
    assert (
        plan["error"]
        == "The planner failed on an unexpected error; it is logged for the operators."
    )

    location, carrier = await queued_plan(client, make_org)
    await attempt(app, location, 1, JobFailure("The road network took too long."))
    plan = (await client.get(location, headers=carrier.headers)).json()
    assert (plan["status"], plan["error"]) == ("failed", "The road network took too long.")


async def test_a_result_of_an_attempt_that_was_taken_over_is_dropped(
    app: FastAPI, client: httpx.AsyncClient, make_org: OrgFactory
) -> None:
    location, _ = await queued_plan(client, make_org)
    plan_id = uuid.UUID(location.rsplit("/", 1)[1])

    async def work_taken_over(session: AsyncSession, row: Any) -> None:
        row.result = {"from": "the slow attempt"}
        # Meanwhile its worker was thought dead and attempt 2 started.
        async with app.state.sessionmaker() as other:
            await other.execute(
                text("UPDATE route_plans SET attempts = 2 WHERE id = :id"), {"id": plan_id}
            )
            await other.commit()

    await run_tracked(app.state.sessionmaker, PLAN_JOB, plan_id, 1, 3, work_taken_over)
    row = await plan_row(app, location)
    assert (row.status, row.attempts, row.result) == ("running", 2, None)


async def test_queries_past_their_deadline_are_stopped(app: FastAPI) -> None:
    async with app.state.sessionmaker() as session:
        with pytest.raises(DeadlinePassed):
            async with statement_deadline(session, 0.3) as deadline:
                await deadline.all(text("SELECT 1"), {})
                await deadline.all(text("SELECT pg_sleep(5)"), {})
        await session.rollback()
        async with statement_deadline(session, 5) as deadline:
            assert [tuple(r) for r in await deadline.all(text("SELECT 42"), {})] == [(42,)]
        # The timeout ends with the block.
        assert await session.scalar(text("SELECT current_setting('statement_timeout')")) == "0"
