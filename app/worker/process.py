"""The worker process: `python -m app.worker [--queues plans,events]` runs the jobs of the
queue until SIGTERM or SIGINT. Start as many as the machines have cores to spare, on one
machine or many, against the one PostgreSQL: they share the queue.

Each queue gets a procrastinate worker of its own in the process, with its own concurrency
(`BOUCLE_WORKER_PLAN_CONCURRENCY`, `BOUCLE_WORKER_EVENT_CONCURRENCY`), so that a long plan
never holds up a delivery. Beside them, the process takes over the jobs of workers that
stopped beating (`app.jobs.stalled`), and logs how long its event loop was held, as a warning
from 100 ms (`app.kit.loop_stalls`). A worker whose database goes away keeps trying;
on SIGTERM, running jobs get `BOUCLE_WORKER_SHUTDOWN_GRACE_SECONDS` to finish, then are
stopped and queued again."""

import argparse
import asyncio
import gc
import logging
import signal
from collections.abc import Iterable
from typing import Any

import procrastinate
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import configure_mappers

from app.db import create_engine, create_sessionmaker
from app.jobs.child_process import preload_in_children, start_fork_server
from app.jobs.cores import processes_per_plan, worker_cores
from app.jobs.queue import EVENTS_QUEUE, PLANS_QUEUE
from app.jobs.stalled import retry_stalled_jobs
from app.kit.loop_stalls import LoopStalls
from app.settings import Settings, get_settings
from app.webhooks.delivery import delivery_tls
from app.worker.registry import CHILD_PROCESS_MODULES, TRACKED_JOBS, create_job_app

log = logging.getLogger("app.worker")

QUEUES = (PLANS_QUEUE, EVENTS_QUEUE)
# A worker that stopped by itself (its database went away) starts again after this long.
RESTART_PAUSE_S = 2.0
# An event loop held this long or longer is logged as a warning: work that should not run on it.
LOOP_STALL_WARNING_S = 0.1


def _concurrency(settings: Settings, queue: str) -> int:
    if queue == PLANS_QUEUE:
        return settings.worker_plan_concurrency
    return settings.worker_event_concurrency


def _worker_options(settings: Settings, context: dict[str, Any]) -> dict[str, Any]:
    return {
        "install_signal_handlers": False,
        "update_heartbeat_interval": settings.worker_heartbeat_seconds,
        "stalled_worker_timeout": settings.worker_stalled_after_seconds,
        "shutdown_graceful_timeout": settings.worker_shutdown_grace_seconds,
        "fetch_job_polling_interval": 2.0,
        "additional_context": context,
    }


async def _serve_queue(
    jobs: procrastinate.App, settings: Settings, queue: str, context: dict[str, Any]
) -> None:
    """One queue's worker, started again whenever it stops by itself; ends when cancelled."""
    while True:
        try:
            await jobs.run_worker_async(
                queues=[queue],
                name=queue,
                concurrency=_concurrency(settings, queue),
                **_worker_options(settings, context),
            )
            log.warning("the %s worker stopped; starting again in %g s", queue, RESTART_PAUSE_S)
        except Exception:
            log.exception("the %s worker failed; starting again in %g s", queue, RESTART_PAUSE_S)
        await asyncio.sleep(RESTART_PAUSE_S)


async def _take_over_stalled_jobs(
    jobs: procrastinate.App, sessionmaker: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    while True:
        try:
            await retry_stalled_jobs(jobs, sessionmaker, settings, TRACKED_JOBS)
        except Exception as exc:
            log.warning("stalled jobs not checked: %s", exc)
        await asyncio.sleep(settings.worker_stalled_check_seconds)


async def _report_loop_stalls(settings: Settings) -> None:
    """Logs the longest time the event loop was held at each heartbeat's interval."""
    stalls = LoopStalls()
    watching = asyncio.create_task(stalls.watch(), name="loop stalls")
    try:
        while True:
            await asyncio.sleep(settings.worker_heartbeat_seconds)
            longest = stalls.take_longest()
            level = logging.WARNING if longest >= LOOP_STALL_WARNING_S else logging.DEBUG
            log.log(
                level,
                "event loop held for %.0f ms at most in the last %g s",
                longest * 1000,
                settings.worker_heartbeat_seconds,
            )
    finally:
        watching.cancel()


async def prepare_worker_process() -> None:
    """What a worker process does once, before its first job, so that no job pays for it on
    the event loop: its children's fork server started, the ORM's mappers configured, the TLS
    context of webhook deliveries made, and what the process holds by then (modules, mappers)
    frozen out of the garbage collector's full collections, which would otherwise walk it all
    again, loop held, mid-job."""
    preload_in_children(CHILD_PROCESS_MODULES)
    await start_fork_server()
    configure_mappers()
    delivery_tls()
    gc.freeze()


async def run_worker(settings: Settings, queues: Iterable[str] = QUEUES) -> None:
    await prepare_worker_process()
    engine = create_engine(settings)
    jobs = create_job_app(settings)
    sessionmaker = create_sessionmaker(engine)
    context = {"sessionmaker": sessionmaker, "settings": settings}
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        async with jobs.open_async():
            running = [
                asyncio.create_task(_serve_queue(jobs, settings, queue, context), name=queue)
                for queue in queues
            ]
            running.append(
                asyncio.create_task(
                    _take_over_stalled_jobs(jobs, sessionmaker, settings),
                    name="stalled jobs",
                )
            )
            running.append(asyncio.create_task(_report_loop_stalls(settings), name="loop stalls"))
            log.info(
                "worker serving %s; each of its %d plan slots searches on %d of its %d cores",
                ", ".join(queues),
                settings.worker_plan_concurrency,
                processes_per_plan(settings),
                worker_cores(settings),
            )
            await stop.wait()
            log.info("stopping: running jobs get %g s", settings.worker_shutdown_grace_seconds)
            for task in running:
                task.cancel()
            await asyncio.gather(*running, return_exceptions=True)
    finally:
        await engine.dispose()


async def work_until_idle(app: FastAPI) -> None:
    """Runs the jobs that are due with the app's own sessions, then returns: for scripted runs
    (`make demo`) and the tests."""
    preload_in_children(CHILD_PROCESS_MODULES)
    # One job at a time: a plan has every core of the plan slots' (`app.jobs.cores`).
    settings: Settings = app.state.settings.model_copy(update={"worker_plan_concurrency": 1})
    jobs = create_job_app(settings)
    async with jobs.open_async():
        await jobs.run_worker_async(
            wait=False,
            concurrency=1,
            install_signal_handlers=False,
            additional_context={"sessionmaker": app.state.sessionmaker, "settings": settings},
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--queues",
        default=",".join(QUEUES),
        help="the queues this process serves, comma-separated (default: %(default)s)",
    )
    arguments = parser.parse_args()
    queues = [q for q in arguments.queues.split(",") if q]
    unknown = set(queues) - set(QUEUES)
    if unknown:
        parser.error(f"unknown queue(s) {', '.join(sorted(unknown))}; the queues are {QUEUES}")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    asyncio.run(run_worker(get_settings(), queues))


if __name__ == "__main__":
    main()
