"""The worker process: `python -m app.worker` runs the jobs of the queue until stopped."""

import asyncio
import logging

import procrastinate

from app.db import create_engine, create_sessionmaker
from app.jobs import psycopg_conninfo
from app.matches import tasks as match_tasks
from app.matching_runs import tasks as matching_tasks
from app.route_plans import tasks as route_plan_tasks
from app.settings import Settings, get_settings
from app.webhooks import tasks as webhook_tasks


def create_job_app(settings: Settings) -> procrastinate.App:
    """The job queue with every task of the service registered on it."""
    jobs = procrastinate.App(
        connector=procrastinate.PsycopgConnector(conninfo=psycopg_conninfo(settings.database_url))
    )
    for register in (
        matching_tasks.register,
        match_tasks.register,
        webhook_tasks.register,
        route_plan_tasks.register,
    ):
        register(jobs)
    return jobs


async def run_worker() -> None:
    settings = get_settings()
    engine = create_engine(settings)
    jobs = create_job_app(settings)
    try:
        async with jobs.open_async():
            await jobs.run_worker_async(
                additional_context={
                    "sessionmaker": create_sessionmaker(engine),
                    "settings": settings,
                }
            )
    finally:
        await engine.dispose()


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    asyncio.run(run_worker())
