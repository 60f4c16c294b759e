"""one pending proposal per offer and request: a pair proposed again while its proposal waits
is refused (409 naming it), and a matching run leaves such a pair out

The duplicates proposed before (the same pair posted again and again) are expired, all but
one per pair: the one a side has accepted already, else the first proposed. No
`match.expired` is sent for them (a migration queues no deliveries); both sides see them
expired in GET /v1/matches.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-02
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "matches_one_pending_proposal"

EXPIRE_DUPLICATES = """
UPDATE matches m SET status = 'expired', version = m.version + 1, updated_at = now()
  FROM (SELECT id, row_number() OVER (
                 PARTITION BY offer_id, request_id
                 ORDER BY (offer_accepted_at IS NULL AND request_accepted_at IS NULL),
                          created_at, id) AS rank
          FROM matches WHERE status = 'proposed') ranked
 WHERE m.id = ranked.id AND ranked.rank > 1
"""


def upgrade() -> None:
    op.execute(EXPIRE_DUPLICATES)
    op.execute(
        f"CREATE UNIQUE INDEX {INDEX} ON matches (offer_id, request_id) WHERE status = 'proposed'"
    )


def downgrade() -> None:
    # The duplicates expired stay expired: they were never meant to be.
    op.execute(f"DROP INDEX {INDEX}")
