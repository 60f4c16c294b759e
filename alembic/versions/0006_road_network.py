"""pgRouting and the schema of the road network (filled by `python -m app.cli roads`)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS pgrouting")
    op.execute("CREATE SCHEMA IF NOT EXISTS roads")


def downgrade() -> None:
    op.execute("DROP SCHEMA IF EXISTS roads CASCADE")
