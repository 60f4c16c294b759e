"""least privilege: what the application's role and the open data's role may touch

The roles are made at set-up, with the database (app.database_roles). Here, as the owner, the
application's role (boucle_app) gets to read and write the tables of the schemas it uses, and
the same on every table made later by the owner (migrations, the road loader); it reads the
migration's version but never writes it. The open data's role (boucle_ogc) gets SELECT on the
views of `ogc` alone, now and later.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APPLICATION = "boucle_app"
OPEN_DATA = "boucle_ogc"
APPLICATION_SCHEMAS = ("public", "stats", "roads")
TABLE_RIGHTS = "SELECT, INSERT, UPDATE, DELETE"
SEQUENCE_RIGHTS = "USAGE, SELECT, UPDATE"


def _grants(verb: str, to: str) -> list[str]:
    statements = []
    for schema in APPLICATION_SCHEMAS:
        statements += [
            f"{verb} USAGE ON SCHEMA {schema} {to} {APPLICATION}",
            f"{verb} {TABLE_RIGHTS} ON ALL TABLES IN SCHEMA {schema} {to} {APPLICATION}",
            f"{verb} {SEQUENCE_RIGHTS} ON ALL SEQUENCES IN SCHEMA {schema} {to} {APPLICATION}",
            f"ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} "
            f"{verb} {TABLE_RIGHTS} ON TABLES {to} {APPLICATION}",
            f"ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} "
            f"{verb} {SEQUENCE_RIGHTS} ON SEQUENCES {to} {APPLICATION}",
        ]
    return [
        *statements,
        f"{verb} USAGE ON SCHEMA ogc {to} {OPEN_DATA}",
        f"{verb} SELECT ON ALL TABLES IN SCHEMA ogc {to} {OPEN_DATA}",
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA ogc {verb} SELECT ON TABLES {to} {OPEN_DATA}",
    ]


# Functions called from a view run as who reads the view: the open data's role, which may read
# no table, reads the communes' figures through this one as its owner.
COMMUNE_OF = "stats.commune_of(geometry)"


def upgrade() -> None:
    for statement in _grants("GRANT", "TO"):
        op.execute(statement)
    op.execute(f"REVOKE INSERT, UPDATE, DELETE ON alembic_version FROM {APPLICATION}")
    op.execute(f"ALTER FUNCTION {COMMUNE_OF} SECURITY DEFINER SET search_path = public, pg_temp")


def downgrade() -> None:
    op.execute(f"ALTER FUNCTION {COMMUNE_OF} SECURITY INVOKER RESET search_path")
    for statement in _grants("REVOKE", "FROM"):
        op.execute(statement)
