"""changes notified: what an API process keeps is told, as each change commits, when it no
longer holds

- `boucle_principals`: an API key revoked (or deleted), an organization renamed, given other
  roles or deleted. A process serves a busy key's requests from a reserve it counted ahead
  (`app.gateway.grants`), with the key as its lookup found it.
- `boucle_publications`: a month of statistics published (again, or forgotten), the reference
  data loaded again (`stats.reference_edition` drawn anew). A process sends the statistics'
  answers it kept without checking them (`app.stats.kept`).

Each API process listens to both (`app.kit.notifications`). The payload is the table's name.

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-07
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0027"
down_revision: str | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Each table, the change that notifies, and its channel.
_NOTIFYING = {
    "api_keys": ("UPDATE OF revoked_at, key_hash, organization_id OR DELETE", "boucle_principals"),
    "organizations": ("UPDATE OF name, roles OR DELETE", "boucle_principals"),
    "stats.published_months": ("INSERT OR UPDATE OR DELETE", "boucle_publications"),
    "stats.reference_edition": ("INSERT OR UPDATE OR DELETE", "boucle_publications"),
}


def _trigger(table: str) -> str:
    return f"{table.rsplit('.', 1)[-1]}_notify_change"


def upgrade() -> None:
    op.execute(
        """
        CREATE FUNCTION notify_change() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify(TG_ARGV[0], TG_TABLE_NAME);
            RETURN NULL;
        END $$
        """
    )
    for table, (change, channel) in _NOTIFYING.items():
        op.execute(
            f"CREATE TRIGGER {_trigger(table)} AFTER {change} ON {table}"
            f" FOR EACH STATEMENT EXECUTE FUNCTION notify_change('{channel}')"
        )


def downgrade() -> None:
    for table in _NOTIFYING:
        op.execute(f"DROP TRIGGER {_trigger(table)} ON {table}")
    op.execute("DROP FUNCTION notify_change()")
