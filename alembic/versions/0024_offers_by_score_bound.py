"""candidates: the open offers by code, grade, place, window and price, for a branch and bound

The offers of one request are read by place, as far as they can still make the page
(app.candidates.bounded_search): a box around the request, for the codes of its material, of
one grade and one kind of price at a time, the window meeting its own. One GiST index (with
btree_gist for the scalar columns) holds all of it for the open offers, so that the rows it
hands over are those the rules would keep, read without touching the rest: by code (as bytes,
a request's sub-chapter or chapter being a range of codes), grade, then place, so that a box
prunes within a code and a grade; the window and the price are tested on its leaves.

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-07
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
    op.execute(
        """CREATE INDEX ix_offers_open_material_place ON offers USING gist (
               (material COLLATE "C"), condition, location,
               daterange(available_from, available_until, '[]'), price_per_unit)
           WHERE status = 'open' AND remaining_value > 0"""
    )


def downgrade() -> None:
    # The extension stays, as postgis and pgrouting do: other objects may come to use it.
    op.execute("DROP INDEX ix_offers_open_material_place")
