"""Least privilege in the database (app.database_roles, migration 0014), tried as an intruder who
got the service's or the open data's connection would try it: neither can read or write a
server file, run a program, call an administrative function, make or change an object, become
another role, or reach a table outside its grant; the open data's role is read-only with a
short statement timeout; and the service refuses to run on a role that could do more."""

from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest

from app.database_roles import APPLICATION, OPEN_DATA, OPEN_DATA_STATEMENT_TIMEOUT, OWNER
from app.main import create_app
from app.settings import Settings
from tests.conftest import ADMIN_TOKEN, as_role, connect_raw

# SQLSTATEs of a refusal: insufficient_privilege, read_only_sql_transaction.
REFUSED = {"42501", "25006"}

BOTH_ROLES_REFUSED = {
    "read a server file": "SELECT pg_read_file('/etc/hostname')",
    "read a server file as binary": "SELECT pg_read_binary_file('/etc/hostname')",
    "list a server folder": "SELECT pg_ls_dir('.')",
    "import a server file": "SELECT lo_import('/etc/hostname')",
    "run a program": "COPY (SELECT 1) TO PROGRAM 'true'",
    "write a server file": "COPY (SELECT 1) TO '/tmp/boucle-intruder'",
    "reload the configuration": "SELECT pg_reload_conf()",
    "rotate the log": "SELECT pg_rotate_logfile()",
    "change the server's settings": "ALTER SYSTEM SET work_mem = '1GB'",
    "make a role": "CREATE ROLE intruder",
    "make a database": "CREATE DATABASE intruder",
    "become the superuser": "SET ROLE postgres",
    "become the owner": f"SET ROLE {OWNER}",
    "read the password hashes": "SELECT rolpassword FROM pg_authid",
    "make a table": "CREATE TABLE public.intruder (id int)",
    "make a function": "CREATE FUNCTION public.intruder() RETURNS int LANGUAGE sql AS 'SELECT 1'",
    "make a schema": "CREATE SCHEMA intruder",
    "load an extension": "CREATE EXTENSION IF NOT EXISTS dblink",
    "drop a table": "DROP TABLE public.offers",
    "change a table": "ALTER TABLE public.offers ADD COLUMN intruder int",
    "empty a table": "TRUNCATE public.offers",
    "change a view": "CREATE OR REPLACE VIEW ogc.offers AS SELECT 1 AS id",
    "write the migration's version": "UPDATE alembic_version SET version_num = 'x'",
    "stop the superuser's session": (
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'postgres'"
    ),
}

OPEN_DATA_REFUSED = {
    "read the API keys": "SELECT * FROM public.api_keys",
    "read the organizations": "SELECT * FROM public.organizations",
    "read the webhooks' secrets": "SELECT secret FROM public.webhooks",
    "read the sites": "SELECT * FROM public.sites",
    "read the offers' private fields": "SELECT price_per_unit, site_id FROM public.offers",
    "read the jobs": "SELECT * FROM procrastinate_jobs",
    "read the flows behind the statistics": "SELECT * FROM stats.flow_facts",
    "read the migration's version": "SELECT * FROM alembic_version",
}


@pytest.fixture
async def superuser(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A superuser's session, there for the roles to try to stop."""
    connection = await connect_raw(database_url)
    yield connection
    await connection.close()


async def _refusal(database_url: str, role: str, statement: str) -> str | None:
    """The SQLSTATE that refused `statement` to `role`, or None if it ran."""
    connection = await connect_raw(as_role(database_url, role))
    try:
        await connection.execute(statement)
    except asyncpg.PostgresError as error:
        return str(error.sqlstate)
    finally:
        await connection.close()
    return None


@pytest.mark.parametrize("role", [APPLICATION, OPEN_DATA])
@pytest.mark.parametrize("attempt", sorted(BOTH_ROLES_REFUSED))
async def test_the_service_roles_can_do_nothing_outside_their_work(
    database_url: str, superuser: asyncpg.Connection, role: str, attempt: str
) -> None:
    refused = await _refusal(database_url, role, BOTH_ROLES_REFUSED[attempt])
    assert refused in REFUSED, f"{role} could {attempt} (SQLSTATE {refused})"


@pytest.mark.parametrize("attempt", sorted(OPEN_DATA_REFUSED))
async def test_the_open_data_role_reads_the_open_views_alone(
    database_url: str, attempt: str
) -> None:
    refused = await _refusal(database_url, OPEN_DATA, OPEN_DATA_REFUSED[attempt])
    assert refused in REFUSED, f"the open data could {attempt} (SQLSTATE {refused})"


async def test_each_role_does_its_work(database_url: str, superuser: asyncpg.Connection) -> None:
    """The refusals above are the grants' doing, not a role that can do nothing."""
    app = await connect_raw(as_role(database_url, APPLICATION))
    open_data = await connect_raw(as_role(database_url, OPEN_DATA))
    try:
        async with app.transaction():
            await app.execute(
                "INSERT INTO organizations (id, name, roles) "
                "VALUES (gen_random_uuid(), 'role check', ARRAY['supplier'])"
            )
            # It reads back what it wrote, and every key there is (as the superuser sees them).
            assert await app.fetchval(
                "SELECT count(*) FROM organizations WHERE name = 'role check'"
            ) == await superuser.fetchval(
                "SELECT count(*) + 1 FROM organizations WHERE name = 'role check'"
            )
            assert await app.fetchval("SELECT count(*) FROM api_keys") == await superuser.fetchval(
                "SELECT count(*) FROM api_keys"
            )
            assert await app.fetchval("SELECT version_num FROM alembic_version")
            await app.execute("DELETE FROM organizations WHERE name = 'role check'")
        # The open data reads its views whole.
        for view in ("ogc.offers", "ogc.hubs"):
            assert await open_data.fetchval(
                f"SELECT count(*) FROM {view}"
            ) == await superuser.fetchval(f"SELECT count(*) FROM {view}"), view
        assert await open_data.fetchval("SHOW default_transaction_read_only") == "on"
        assert await open_data.fetchval("SHOW statement_timeout") == OPEN_DATA_STATEMENT_TIMEOUT
        for connection in (app, open_data):
            assert not await connection.fetchval(
                "SELECT rolsuper OR rolcreaterole OR rolcreatedb OR rolbypassrls "
                "FROM pg_roles WHERE rolname = current_user"
            )
    finally:
        await app.close()
        await open_data.close()


async def test_a_long_statement_of_the_open_data_is_stopped(database_url: str) -> None:
    open_data = await connect_raw(as_role(database_url, OPEN_DATA))
    try:
        with pytest.raises(asyncpg.QueryCanceledError):
            await open_data.execute("SELECT pg_sleep(60)")
    finally:
        await open_data.close()


@pytest.mark.parametrize("role", ["postgres", OWNER])
async def test_the_service_refuses_a_connection_that_could_change_the_schema(
    database_url: str, role: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The superuser, and the owner that migrates, are no roles to serve requests with: the
    API says it is not ready, answers no request from the database, and the log says why."""
    url = database_url if role == "postgres" else as_role(database_url, OWNER)
    app = create_app(Settings(database_url=url, admin_token=ADMIN_TOKEN))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client,
    ):
        ready = await client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["database"] == "connected as a privileged role: see the log"
        listed = await client.get(
            "/v1/organizations", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
        )
        assert listed.status_code == 503 and role not in listed.text
    assert any(
        "BOUCLE_DATABASE_URL connects as" in r.getMessage() and role in r.getMessage()
        for r in caplog.records
    )


async def test_the_open_data_runs_only_on_a_role_of_its_own(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Not configured, it answers 503 saying so; given the owner (a role that could change the
    schema), it refuses it, and never falls back to the service's role."""
    for open_data_url in (None, as_role(database_url, OWNER)):
        app = create_app(
            Settings(
                database_url=as_role(database_url, APPLICATION),
                open_data_database_url=open_data_url,
                admin_token=ADMIN_TOKEN,
            )
        )
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c,
        ):
            answer = await c.get("/ogc/collections/ogc.offers/items")
            assert answer.status_code == 503, answer.text
            assert OWNER not in answer.text
            # Not set, it says so; set to the owner, it does not say it is not set.
            said = "BOUCLE_OPEN_DATA_DATABASE_URL is not set" in answer.json()["detail"]
            assert said == (open_data_url is None), answer.text
    assert any(
        "BOUCLE_OPEN_DATA_DATABASE_URL connects as" in r.getMessage() and OWNER in r.getMessage()
        for r in caplog.records
    )
