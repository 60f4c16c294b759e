"""several API keys per organization (name, prefix, last use); idempotency keys scoped to the
authenticated organization, with an expiry and a claim that lapses

The idempotency records kept so far are dropped: they are keyed by a hash of whatever
Authorization header came, and the answers to `POST /v1/organizations` among them hold API
keys in clear.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("api_keys", sa.Column("name", sa.String(100)))
    op.add_column("api_keys", sa.Column("prefix", sa.String(16)))
    op.add_column("api_keys", sa.Column("last_used_at", sa.DateTime(timezone=True)))

    op.execute("DELETE FROM idempotency_keys")
    op.alter_column("idempotency_keys", "principal", new_column_name="scope")
    op.add_column(
        "idempotency_keys",
        sa.Column("secret_withheld", sa.Boolean, nullable=False, server_default=sa.false()),
    )
    op.add_column(
        "idempotency_keys",
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.add_column("idempotency_keys", sa.Column("locked_until", sa.DateTime(timezone=True)))
    op.drop_index("ix_idempotency_keys_created_at", table_name="idempotency_keys")
    op.create_index("ix_idempotency_keys_expires_at", "idempotency_keys", ["expires_at"])


def downgrade() -> None:
    op.execute("DELETE FROM idempotency_keys")
    op.drop_index("ix_idempotency_keys_expires_at", table_name="idempotency_keys")
    op.create_index("ix_idempotency_keys_created_at", "idempotency_keys", ["created_at"])
    for column in ("locked_until", "expires_at", "secret_withheld"):
        op.drop_column("idempotency_keys", column)
    op.alter_column("idempotency_keys", "scope", new_column_name="principal")

    for column in ("last_used_at", "prefix", "name"):
        op.drop_column("api_keys", column)
