"""candidates: partial indexes on the open listings, by material and window and by place

Only open listings with something left are ever candidates; these indexes hold those rows only,
under the predicate the candidate queries (app.candidates.repository) spell:
`status = 'open' AND remaining_value > 0`.

- The offers of one request are found by code and availability (`material`, `available_from`),
  the requests of one offer by code and need (`material`, `needed_by`): a request's reach
  covers most of the region, so its place narrows little and its material and window a lot.
- The whole candidate graph (matching runs) is joined by place: a GiST index on the open
  listings' geography on each side.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = "status = 'open' AND remaining_value > 0"
INDEXES = {
    "ix_offers_open_material_from": "offers (material, available_from)",
    "ix_material_requests_open_material_by": "material_requests (material, needed_by)",
    "ix_offers_open_location_geog": "offers USING gist ((location::geography))",
    "ix_material_requests_open_location_geog": (
        "material_requests USING gist ((location::geography))"
    ),
}


def upgrade() -> None:
    for name, target in INDEXES.items():
        op.execute(f"CREATE INDEX {name} ON {target} WHERE {OPEN}")


def downgrade() -> None:
    for name in INDEXES:
        op.execute(f"DROP INDEX {name}")
