"""matches between offers and requests

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATUSES = ("proposed", "accepted", "rejected", "expired", "fulfilled")


def upgrade() -> None:
    op.create_table(
        "matches",
        sa.Column("id", postgresql.UUID(as_uuid=True), primary_key=True),
        sa.Column(
            "offer_id",
            postgresql.UUID(as_uuid=True),
            sa.ForeignKey("offers.id", ondelete="RESTRICT"),
            nullable=False,
            index=True,
        ),
        sa.Column(
            "request_id",
            postgresql.UUID(as_uuid=True),
            sa.ForeignKey("material_requests.id", ondelete="RESTRICT"),
            nullable=False,
            index=True,
        ),
        # The quantity in the request's unit, and what it takes from the offer in the offer's.
        sa.Column("quantity_value", sa.Numeric(16, 3), nullable=False),
        sa.Column("quantity_unit", sa.String(8), nullable=False),
        sa.Column("offer_quantity_value", sa.Numeric(16, 3), nullable=False),
        sa.Column("offer_quantity_unit", sa.String(8), nullable=False),
        sa.Column("mass_kg", sa.Numeric(16, 3)),
        sa.Column("distance_m", sa.Float, nullable=False),
        sa.Column("distance_kind", sa.String(16), nullable=False),
        sa.Column("score", postgresql.JSONB, nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("proposed_by", sa.String(12), nullable=False),
        sa.Column("offer_accepted_at", sa.DateTime(timezone=True)),
        sa.Column("request_accepted_at", sa.DateTime(timezone=True)),
        sa.Column("version", sa.Integer, nullable=False, server_default="1"),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.CheckConstraint(
            "quantity_value > 0 AND offer_quantity_value > 0", name="quantity_positive"
        ),
        sa.CheckConstraint(
            "status IN (" + ", ".join(repr(s) for s in STATUSES) + ")", name="status_known"
        ),
    )


def downgrade() -> None:
    op.drop_table("matches")
