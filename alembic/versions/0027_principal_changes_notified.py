"""key changes notified: an API key revoked (or deleted), an organization renamed, given other
roles or deleted, notifies `boucle_principals` as it commits

An API process serves a busy key's requests from a reserve it counted ahead
(`app.gateway.grants`), with the key as its lookup found it; it listens on that channel
(`app.gateway.principal_changes`) and forgets every reserve at each notification, so that a
revoked key is refused at once in every process.

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

# What a request's key lookup reads (`app.auth.ActiveKey`), by table.
_WATCHED = {"api_keys": "revoked_at, key_hash, organization_id", "organizations": "name, roles"}


def upgrade() -> None:
    op.execute(
        """
        CREATE FUNCTION notify_principal_change() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('boucle_principals', TG_TABLE_NAME);
            RETURN NULL;
        END $$
        """
    )
    for table, columns in _WATCHED.items():
        op.execute(
            f"CREATE TRIGGER {table}_notify_principal_change"
            f" AFTER UPDATE OF {columns} OR DELETE ON {table}"
            " FOR EACH STATEMENT EXECUTE FUNCTION notify_principal_change()"
        )


def downgrade() -> None:
    for table in _WATCHED:
        op.execute(f"DROP TRIGGER {table}_notify_principal_change ON {table}")
    op.execute("DROP FUNCTION notify_principal_change()")
