"""webhook secrets rotate: the secret a rotation replaced signs beside the new one until a time

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("webhooks", sa.Column("previous_secret", sa.Text, nullable=True))
    op.add_column(
        "webhooks",
        sa.Column("previous_secret_until", sa.DateTime(timezone=True), nullable=True),
    )
    # A previous secret always has its end, and an end always its secret.
    op.create_check_constraint(
        "previous_secret_has_its_end",
        "webhooks",
        "(previous_secret IS NULL) = (previous_secret_until IS NULL)",
    )


def downgrade() -> None:
    op.drop_constraint("previous_secret_has_its_end", "webhooks", type_="check")
    op.drop_column("webhooks", "previous_secret_until")
    op.drop_column("webhooks", "previous_secret")
