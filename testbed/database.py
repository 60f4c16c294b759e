"""Databases of the service on a cluster, as set-up makes them: owned by the owner's role, open
to the others, migrated and loaded by the service's own commands; and plain connections beside
the app."""

import os
import subprocess
import sys

import asyncpg
from sqlalchemy.engine import make_url

from app.database_roles import (
    APPLICATION,
    OPEN_DATA,
    OWNER,
    new_passwords,
    prepare_database,
    role_url,
)
from app.settings import PROJECT_ROOT

# The passwords of the database's roles (app.database_roles) on the cluster of a run (the
# suite's or a benchmark's), set anew by each run.
ROLE_PASSWORDS = new_passwords()


def as_role(database_url: str, role: str) -> str:
    """The URL of the same database for one of the roles: the app connects as APPLICATION, the
    open data as OPEN_DATA, migrations and loaders as OWNER. Tests read and write beside the
    app through the cluster's superuser URL (`database_url`)."""
    return role_url(database_url, role, ROLE_PASSWORDS[role])


def role_environment(database_url: str) -> dict[str, str]:
    """The environment of a process of the service (a migration, a loader, a worker)."""
    return {
        **os.environ,
        "BOUCLE_DATABASE_URL": as_role(database_url, APPLICATION),
        "BOUCLE_MIGRATION_DATABASE_URL": as_role(database_url, OWNER),
        "BOUCLE_OPEN_DATA_DATABASE_URL": as_role(database_url, OPEN_DATA),
    }


def migrate(database_url: str, revision: str = "head", command: str = "upgrade") -> None:
    subprocess.run(
        [sys.executable, "-m", "alembic", command, revision],
        cwd=PROJECT_ROOT,
        env=role_environment(database_url),
        check=True,
    )


def load_reference(database_url: str, *commands: str) -> None:
    """Runs the loading commands of `python -m app.cli` (by default the EWC list and region)."""
    for command in commands or ("reference",):
        subprocess.run(
            [sys.executable, "-m", "app.cli", command],
            cwd=PROJECT_ROOT,
            env=role_environment(database_url),
            check=True,
        )


async def create_database(server_url: str, name: str) -> str:
    """An empty database `name` on the server (dropped first if it was there), owned by the
    owner's role and open to the roles, as set-up makes it; its superuser's URL."""
    await prepare_database(server_url, name, ROLE_PASSWORDS, fresh=True)
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


async def connect_raw(database_url: str, database: str | None = None) -> asyncpg.Connection:
    """A plain asyncpg connection to the database of this SQLAlchemy URL (or to `database` on
    its server), for what a test or a benchmark reads or holds beside the app."""
    url = make_url(database_url)
    return await asyncpg.connect(
        host=url.host,
        port=url.port,
        user=url.username,
        password=url.password,
        database=database or url.database,
    )
