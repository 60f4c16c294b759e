"""route plans: cancelled by their owner, and the progress of a running one

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _statuses(*statuses: str) -> str:
    return f"status IN ({', '.join(repr(s) for s in statuses)})"


def upgrade() -> None:
    op.drop_constraint("status_known", "route_plans", type_="check")
    op.create_check_constraint(
        "status_known", "route_plans", _statuses("queued", "running", "done", "failed", "cancelled")
    )
    op.add_column("route_plans", sa.Column("cancel_requested_at", sa.DateTime(timezone=True)))
    op.add_column("route_plans", sa.Column("progress", postgresql.JSONB))


def downgrade() -> None:
    op.drop_column("route_plans", "progress")
    op.drop_column("route_plans", "cancel_requested_at")
    op.execute(
        "UPDATE route_plans SET status = 'failed', error = 'Cancelled.' WHERE status = 'cancelled'"
    )
    op.drop_constraint("status_known", "route_plans", type_="check")
    op.create_check_constraint(
        "status_known", "route_plans", _statuses("queued", "running", "done", "failed")
    )
