"""The running service never connects as a role that may do more than its work
(app.database_roles): each new connection of the API, the workers and the open data is asked
what its role may do, and refused if it could change the schema, make roles or databases,
replicate or pass row security (a superuser can do all of it, and read the server's files)."""

import logging

import asyncpg

from app.kit.problems import ServiceUnavailable

log = logging.getLogger(__name__)

_PRIVILEGED_ROLE = """
SELECT r.rolsuper OR r.rolcreaterole OR r.rolcreatedb OR r.rolreplication OR r.rolbypassrls
       OR has_database_privilege(current_database(), 'CREATE')
       OR has_schema_privilege('public', 'CREATE')
  FROM pg_roles r
 WHERE r.rolname = current_user
"""


class PrivilegedDatabaseRole(ServiceUnavailable):
    """A connection of the service may do more than read and write what its role is granted:
    a 503 to the client, which is told nothing of the database; the log says what is wrong."""

    def __init__(self) -> None:
        super().__init__(
            "The service cannot use its database as it is configured; its operator is told "
            "in the service's log."
        )


async def refuse_privileged_role(connection: asyncpg.Connection, setting: str) -> None:
    """Raises PrivilegedDatabaseRole, and says so in the log, if `connection`'s role (given by
    the setting named) is privileged."""
    if await connection.fetchval(_PRIVILEGED_ROLE):
        user = await connection.fetchval("SELECT current_user")
        log.error(
            "%s connects as %s, a role that may change the schema or more: the service "
            "connects as the roles of app/database_roles.py (boucle_app for the API and "
            "workers, boucle_ogc for the open data).",
            setting,
            user,
        )
        raise PrivilegedDatabaseRole()
