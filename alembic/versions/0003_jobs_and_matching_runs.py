"""the job queue (procrastinate's schema) and matching runs

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from procrastinate.schema import SchemaManager
from sqlalchemy.dialects import postgresql
from sqlalchemy.util.concurrency import await_

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_DROP_PROCRASTINATE = """
DROP TABLE IF EXISTS procrastinate_events, procrastinate_periodic_defers, procrastinate_jobs,
                     procrastinate_workers CASCADE;
DO $$
DECLARE f record;
BEGIN
    FOR f IN SELECT p.oid::regprocedure AS signature
               FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
              WHERE n.nspname = current_schema() AND p.proname LIKE 'procrastinate%'
    LOOP
        EXECUTE 'DROP FUNCTION IF EXISTS ' || f.signature || ' CASCADE';
    END LOOP;
END $$;
DROP TYPE IF EXISTS procrastinate_job_status, procrastinate_job_event_type,
                    procrastinate_job_to_defer_v1 CASCADE;
"""


def _execute_script(sql: str) -> None:
    """Runs a multi-statement script on the migration's own connection and transaction
    (asyncpg's simple-query path; SQLAlchemy would prepare it as one statement)."""
    await_(op.get_bind().connection.driver_connection.execute(sql))


def upgrade() -> None:
    _execute_script(SchemaManager.get_schema())
    op.create_table(
        "matching_runs",
        sa.Column("id", postgresql.UUID(as_uuid=True), primary_key=True),
        sa.Column(
            "organization_id",
            postgresql.UUID(as_uuid=True),
            sa.ForeignKey("organizations.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("material", sa.String(6)),
        sa.Column("area", postgresql.JSONB),
        sa.Column("cost_per_tonne_km", sa.Float, nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("totals", postgresql.JSONB),
        sa.Column("error", sa.Text),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column("started_at", sa.DateTime(timezone=True)),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        sa.CheckConstraint(
            "status IN ('queued', 'running', 'done', 'failed')", name="status_known"
        ),
    )
    op.add_column(
        "matches",
        sa.Column(
            "run_id",
            postgresql.UUID(as_uuid=True),
            sa.ForeignKey("matching_runs.id", ondelete="SET NULL"),
        ),
    )
    op.create_index("ix_matches_run_id", "matches", ["run_id"])


def downgrade() -> None:
    op.drop_index("ix_matches_run_id", "matches")
    op.drop_column("matches", "run_id")
    op.drop_table("matching_runs")
    _execute_script(_DROP_PROCRASTINATE)
