"""The worker process: `python -m app.worker` runs the jobs of the queue until stopped."""

import asyncio
import logging
from functools import cache

import procrastinate

from app.db import create_engine, create_sessionmaker
from app.jobs import psycopg_conninfo
from app.matches.tasks import blueprint as match_tasks
from app.matching_runs.tasks import blueprint as matching_tasks
from app.settings import Settings, get_settings
from app.webhooks.tasks import blueprint as webhook_tasks


@cache
def _task_registry() -> procrastinate.App:
    # Blueprints rename their tasks when added, so they are added once per process.
    registry = procrastinate.App(connector=procrastinate.PsycopgConnector())
    registry.add_tasks_from(matching_tasks, namespace="matching")
    registry.add_tasks_from(match_tasks, namespace="matches")
    registry.add_tasks_from(webhook_tasks, namespace="webhooks")
    return registry


def create_job_app(settings: Settings) -> procrastinate.App:
    return _task_registry().with_connector(
        procrastinate.PsycopgConnector(conninfo=psycopg_conninfo(settings.database_url))
    )


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
