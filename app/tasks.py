"""The job app with every task of the service registered on it."""

import procrastinate

from app.hubs import tasks as hub_tasks
from app.jobs import psycopg_conninfo
from app.matches import tasks as match_tasks
from app.matching_runs import tasks as matching_tasks
from app.route_plans import tasks as route_plan_tasks
from app.settings import Settings
from app.webhooks import tasks as webhook_tasks


def create_job_app(settings: Settings) -> procrastinate.App:
    jobs = procrastinate.App(
        connector=procrastinate.PsycopgConnector(conninfo=psycopg_conninfo(settings.database_url))
    )
    for register in (
        matching_tasks.register,
        match_tasks.register,
        webhook_tasks.register,
        route_plan_tasks.register,
        hub_tasks.register,
    ):
        register(jobs)
    return jobs
