"""rate limits: the requests of each API key, or client address, in its current window

UNLOGGED: a counter is written by every request, and losing the counts of the current minute
in a crash or a fail-over (an unlogged table comes back empty) only lets callers start a new
window early; in exchange no write goes through the WAL or to the standbys. No index but the
primary key, and room left on each page (fillfactor), so that the update of a counter is a
HOT update that touches no index; the sweep that deletes ended windows reads the small table
whole.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-01
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        """
        CREATE UNLOGGED TABLE rate_limit_counters (
            subject text PRIMARY KEY,
            window_ends_at timestamptz NOT NULL,
            count integer NOT NULL
        ) WITH (fillfactor = 70)
        """
    )


def downgrade() -> None:
    op.drop_table("rate_limit_counters")
