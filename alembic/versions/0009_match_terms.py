"""match terms frozen at proposal: the versions of the offer and the request a match was
proposed on

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for column in ("offer_version", "request_version"):
        op.add_column("matches", sa.Column(column, sa.Integer(), nullable=True))


def downgrade() -> None:
    for column in ("offer_version", "request_version"):
        op.drop_column("matches", column)
