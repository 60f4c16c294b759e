"""The job app with every task of the service registered on it, and the tasks whose rows
tell users how they go."""

import procrastinate

from app.deliveries import tasks as delivery_tasks
from app.deliveries.cutoff import settle_slot_of_plan
from app.gateway import idempotency_purge, rate_limit_purge
from app.hubs import tasks as hub_tasks
from app.jobs.queue import ReconnectingPsycopgConnector, RetryInterrupted, psycopg_conninfo
from app.jobs.tracked import TrackedJob
from app.matches import tasks as match_tasks
from app.matching_runs import tasks as matching_tasks
from app.matching_runs.service import RUN_JOB
from app.offers import tasks as offer_tasks
from app.route_plans import tasks as route_plan_tasks
from app.route_plans.service import PLAN_JOB
from app.settings import Settings
from app.shop_connections import tasks as shop_connection_tasks
from app.stats import tasks as stats_tasks
from app.webhooks import tasks as webhook_tasks

TRACKED_JOBS: dict[str, TrackedJob] = {job.kind.name: job for job in (PLAN_JOB, RUN_JOB)}

# What the job processes run, imported once by their fork server.
CHILD_PROCESS_MODULES = ("app.route_plans.service", "app.matching_runs.service")


def create_job_app(settings: Settings) -> procrastinate.App:
    jobs = procrastinate.App(
        connector=ReconnectingPsycopgConnector(
            conninfo=psycopg_conninfo(settings.database_url),
            # While the database restarts, a worker's queries wait for it this long.
            timeout=60,
        )
    )
    retry = RetryInterrupted(settings.job_max_attempts, settings.job_retry_base_seconds)
    for register in (
        matching_tasks.register,
        match_tasks.register,
        webhook_tasks.register,
        hub_tasks.register,
        offer_tasks.register,
        idempotency_purge.register,
        rate_limit_purge.register,
        stats_tasks.register,
        delivery_tasks.register,
        shop_connection_tasks.register,
    ):
        register(jobs, retry)
    # A delivery slot's plan settles its deliveries as it is done.
    route_plan_tasks.register(jobs, retry, on_done=settle_slot_of_plan)
    return jobs
