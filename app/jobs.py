"""The one job queue: procrastinate on the service's own PostgreSQL. The API defers jobs; the
worker processes (`python -m app.worker`, started by `make run`) run them."""

import procrastinate
from sqlalchemy.engine import make_url

from app.matching_runs.tasks import blueprint as matching_tasks
from app.settings import Settings


def psycopg_conninfo(database_url: str) -> str:
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


def create_job_app(settings: Settings) -> procrastinate.App:
    job_app = procrastinate.App(
        connector=procrastinate.PsycopgConnector(conninfo=psycopg_conninfo(settings.database_url))
    )
    job_app.add_tasks_from(matching_tasks, namespace="matching")
    return job_app
