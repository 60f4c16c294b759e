"""jobs that survive: how often a route plan or matching run was started, the two job queues

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TRACKED = ("route_plans", "matching_runs")


def upgrade() -> None:
    for table in TRACKED:
        op.add_column(
            table, sa.Column("attempts", sa.Integer(), nullable=False, server_default="0")
        )
        # The per-organization quota counts these.
        op.create_index(
            f"ix_{table}_active",
            table,
            ["organization_id"],
            postgresql_where=sa.text("status IN ('queued', 'running')"),
        )
    # Jobs queued before the split into two queues go to the queue their task now serves.
    op.execute(
        """
        UPDATE procrastinate_jobs
        SET queue_name = CASE
            WHEN task_name IN ('logistics:solve_route_plan', 'matching:run_matching') THEN 'plans'
            ELSE 'events' END
        WHERE queue_name = 'default' AND status IN ('todo', 'doing')
        """
    )


def downgrade() -> None:
    op.execute(
        "UPDATE procrastinate_jobs SET queue_name = 'default' "
        "WHERE queue_name IN ('plans', 'events') AND status IN ('todo', 'doing')"
    )
    for table in TRACKED:
        op.drop_index(f"ix_{table}_active", table_name=table)
        op.drop_column(table, "attempts")
