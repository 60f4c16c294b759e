"""vehicles, shipments and route plans

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

VEHICLE_TYPES = ("cargo_bike", "cargo_trike", "e_van", "van", "truck")


def _owned() -> list[sa.Column]:
    return [
        sa.Column("id", postgresql.UUID(as_uuid=True), primary_key=True),
        sa.Column(
            "organization_id",
            postgresql.UUID(as_uuid=True),
            sa.ForeignKey("organizations.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column("version", sa.Integer, nullable=False, server_default="1"),
    ]


def _point(name: str) -> sa.Column:
    return sa.Column(name, Geometry("POINT", srid=4326, spatial_index=False), nullable=False)


def upgrade() -> None:
    op.create_table(
        "vehicles",
        *_owned(),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("type", sa.String(20), nullable=False),
        sa.Column("capacity_kg", sa.Float, nullable=False),
        sa.Column("capacity_m3", sa.Float, nullable=False),
        sa.Column("speed_kmh", sa.Float, nullable=False),
        sa.Column("range_km", sa.Float),
        _point("start_location"),
        _point("end_location"),
        sa.Column("shift_start", sa.Time, nullable=False),
        sa.Column("shift_end", sa.Time, nullable=False),
        sa.Column("cost_per_km", sa.Float, nullable=False),
        sa.Column("cost_per_hour", sa.Float, nullable=False),
        sa.Column("fixed_cost", sa.Float, nullable=False),
        sa.Column("co2_g_per_km", sa.Float, nullable=False),
        sa.CheckConstraint(
            "type IN (" + ", ".join(repr(t) for t in VEHICLE_TYPES) + ")", name="type_known"
        ),
        sa.CheckConstraint(
            "capacity_kg > 0 AND capacity_m3 > 0 AND speed_kmh > 0", name="positive"
        ),
        sa.CheckConstraint("shift_start < shift_end", name="shift_ordered"),
    )
    op.create_table(
        "shipments",
        *_owned(),
        sa.Column("reference", sa.String(200)),
        _point("pickup_location"),
        sa.Column("pickup_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("pickup_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("pickup_service_s", sa.Integer, nullable=False),
        _point("delivery_location"),
        sa.Column("delivery_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivery_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivery_service_s", sa.Integer, nullable=False),
        sa.Column("load_kg", sa.Float, nullable=False),
        sa.Column("load_m3", sa.Float, nullable=False),
        sa.Column(
            "match_id",
            postgresql.UUID(as_uuid=True),
            sa.ForeignKey("matches.id", ondelete="SET NULL"),
        ),
        sa.CheckConstraint("load_kg > 0 AND load_m3 >= 0", name="load_positive"),
        sa.CheckConstraint(
            "pickup_from <= pickup_until AND delivery_from <= delivery_until",
            name="windows_ordered",
        ),
    )
    op.create_table(
        "route_plans",
        *_owned(),
        sa.Column("date", sa.Date, nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("matrix", sa.String(20), nullable=False),
        sa.Column("objective", sa.String(30), nullable=False),
        sa.Column("time_limit_s", sa.Float, nullable=False),
        sa.Column("inputs", postgresql.JSONB, nullable=False),
        sa.Column("result", postgresql.JSONB),
        sa.Column("error", sa.Text),
        sa.Column("started_at", sa.DateTime(timezone=True)),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        sa.CheckConstraint(
            "status IN ('queued', 'running', 'done', 'failed')", name="status_known"
        ),
    )


def downgrade() -> None:
    op.drop_table("route_plans")
    op.drop_table("shipments")
    op.drop_table("vehicles")
