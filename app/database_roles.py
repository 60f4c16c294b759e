"""The database's three roles, and the database made for them (as a superuser, at set-up):

- `boucle_owner` owns the database and its objects and runs the migrations and the loaders;
- `boucle_app` is the running service's (API and workers): it reads and writes the tables the
  migrations grant it (0014), and can make nothing, own nothing, read no file;
- `boucle_ogc` is the open data's (tipg, /ogc): it can only SELECT the views of the `ogc`
  schema, its transactions are read-only unless it says otherwise, and no statement of it runs
  longer than `OPEN_DATA_STATEMENT_TIMEOUT`.

None of them is a superuser or may make roles or databases. `make run` keeps their passwords in
a PostgreSQL password file beside its cluster (`.data/pg/pgpass`, mode 0600), so that no URL and
no output carries one; the tests set passwords of their own."""

import secrets
from collections.abc import Mapping
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url

from app.kit.private_files import write_private_file

OWNER = "boucle_owner"
APPLICATION = "boucle_app"
OPEN_DATA = "boucle_ogc"
ROLES = (OWNER, APPLICATION, OPEN_DATA)

OPEN_DATA_STATEMENT_TIMEOUT = "5s"

_LEAST = "NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS LOGIN"


def role_url(url: str, role: str, password: str | None = None) -> str:
    """The URL of `url`'s database for `role` (with `password`, or none: a password file)."""
    return make_url(url).set(username=role, password=password).render_as_string(hide_password=False)


def new_passwords() -> dict[str, str]:
    return {role: secrets.token_urlsafe(24) for role in ROLES}


async def prepare_database(
    admin_url: str, database: str, passwords: Mapping[str, str], *, fresh: bool = False
) -> None:
    """As the superuser of `admin_url`: the three roles with these passwords, and `database`
    owned by the owner, with PostGIS and pgRouting (which only a superuser may create), open to
    the three roles alone. With `fresh`, the database is dropped first. Run again, it only sets
    the passwords and the settings again."""
    url = make_url(admin_url)
    connect = dict(host=url.host, port=url.port, user=url.username, password=url.password)
    server = await asyncpg.connect(**connect, database="postgres")
    try:
        for role in ROLES:
            exists = await server.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", role)
            verb = "ALTER" if exists else "CREATE"
            # DDL takes no bound parameter: the password goes in as a quoted literal.
            literal = await server.fetchval("SELECT quote_literal($1)", passwords[role])
            await server.execute(f"{verb} ROLE {role} {_LEAST} PASSWORD {literal}")
        await server.execute(f"ALTER ROLE {OPEN_DATA} SET default_transaction_read_only = on")
        await server.execute(
            f"ALTER ROLE {OPEN_DATA} SET statement_timeout = '{OPEN_DATA_STATEMENT_TIMEOUT}'"
        )
        quoted = '"' + database.replace('"', '""') + '"'
        if fresh:
            await server.execute(f"DROP DATABASE IF EXISTS {quoted} WITH (FORCE)")
        if not await server.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database):
            await server.execute(f"CREATE DATABASE {quoted} OWNER {OWNER}")
        await server.execute(f"REVOKE ALL ON DATABASE {quoted} FROM PUBLIC")
        # TEMP for tipg, which makes its catalog functions in pg_temp on each connection.
        await server.execute(f"GRANT CONNECT, TEMP ON DATABASE {quoted} TO {APPLICATION}")
        await server.execute(f"GRANT CONNECT, TEMP ON DATABASE {quoted} TO {OPEN_DATA}")
    finally:
        await server.close()
    db = await asyncpg.connect(**connect, database=database)
    try:
        owner = await db.fetchval(
            "SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = "
            "to_regclass('public.alembic_version')"
        )
        if owner is not None and owner != OWNER:
            raise RuntimeError(
                f"The database {database} was migrated by {owner}, before it had roles: its "
                f"tables must belong to {OWNER}. Make it anew (for make run: make stop-db, "
                f"remove .data/pg, make run)."
            )
        await db.execute("CREATE EXTENSION IF NOT EXISTS postgis")
        await db.execute("CREATE EXTENSION IF NOT EXISTS pgrouting")
    finally:
        await db.close()


def write_password_file(path: Path, host: str, passwords: Mapping[str, str]) -> None:
    """A PostgreSQL password file (libpq's and asyncpg's PGPASSFILE) for the roles, any port and
    database of `host`, made readable by its owner alone from the start; lines of other roles
    already there are kept."""
    kept = [
        line
        for line in (path.read_text().splitlines() if path.exists() else [])
        if _role_of(line) not in passwords
    ]
    lines = [*kept, *(f"{host}:*:*:{role}:{_escaped(pw)}" for role, pw in passwords.items())]
    write_private_file(path, "\n".join(lines) + "\n")


def read_password_file(path: Path) -> dict[str, str]:
    """The passwords of the roles in a password file, by role."""
    found: dict[str, str] = {}
    for line in path.read_text().splitlines() if path.exists() else []:
        role = _role_of(line)
        if role in ROLES:
            found[role] = line.split(":", 4)[4].replace("\\:", ":").replace("\\\\", "\\")
    return found


def _role_of(line: str) -> str | None:
    """The user of a password file's line (host:port:database:user:password)."""
    parts = line.split(":", 4)
    return parts[3] if len(parts) == 5 else None


def _escaped(password: str) -> str:
    return password.replace("\\", "\\\\").replace(":", "\\:")
