"""The worker process: `python -m app.worker` runs the jobs of the queue until stopped."""

import asyncio
import logging

from fastapi import FastAPI

from app.db import create_engine, create_sessionmaker
from app.settings import get_settings
from app.tasks import create_job_app


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


async def work_until_idle(app: FastAPI) -> None:
    """Runs the jobs that are due with the app's own sessions, then returns: for scripted runs
    (`make demo`) and the tests."""
    jobs = create_job_app(app.state.settings)
    async with jobs.open_async():
        await jobs.run_worker_async(
            wait=False,
            install_signal_handlers=False,
            additional_context={
                "sessionmaker": app.state.sessionmaker,
                "settings": app.state.settings,
            },
        )


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    asyncio.run(run_worker())
