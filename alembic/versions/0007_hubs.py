"""material yards and hubs: limits, pooling thresholds, lots and append-only movements;
two-tier route plans and the time a vehicle spends at each stop

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _id() -> sa.Column:
    return sa.Column("id", postgresql.UUID(as_uuid=True), primary_key=True)


def _ref(name: str, target: str, *, nullable: bool = True, unique: bool = False) -> sa.Column:
    return sa.Column(
        name,
        postgresql.UUID(as_uuid=True),
        sa.ForeignKey(target, ondelete="RESTRICT"),
        nullable=nullable,
        unique=unique,
    )


def _created_at() -> sa.Column:
    return sa.Column(
        "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    )


def upgrade() -> None:
    op.create_table(
        "hub_limits",
        sa.Column(
            "hub_id",
            postgresql.UUID(as_uuid=True),
            sa.ForeignKey("sites.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        # An EWC prefix (chapter, sub-chapter or code); '' is the whole hub.
        sa.Column("material", sa.String(6), primary_key=True),
        sa.Column("max_t", sa.Numeric(16, 3)),
        sa.Column("max_m3", sa.Numeric(16, 3)),
        sa.CheckConstraint("max_t IS NOT NULL OR max_m3 IS NOT NULL", name="some_limit"),
        sa.CheckConstraint("max_t >= 0 AND max_m3 >= 0", name="not_negative"),
    )
    op.create_table(
        "hub_pooling_thresholds",
        sa.Column(
            "hub_id",
            postgresql.UUID(as_uuid=True),
            sa.ForeignKey("sites.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("material", sa.String(6), primary_key=True),
        sa.Column("threshold_t", sa.Numeric(16, 3), nullable=False),
        sa.Column("radius_km", sa.Numeric(8, 3), nullable=False),
        # When the pool last went over the threshold; null while it is under.
        sa.Column("reached_at", sa.DateTime(timezone=True)),
        sa.CheckConstraint("threshold_t > 0 AND radius_km >= 0", name="positive"),
    )
    op.create_table(
        "hub_lots",
        _id(),
        _ref("hub_id", "sites.id", nullable=False),
        sa.Column(
            "organization_id",
            postgresql.UUID(as_uuid=True),
            sa.ForeignKey("organizations.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("material", sa.String(6), sa.ForeignKey("materials.code"), nullable=False),
        sa.Column("condition", sa.String(1), nullable=False),
        sa.Column("unit", sa.String(8), nullable=False),
        sa.Column("mass_per_unit_kg", sa.Float),
        sa.Column("volume_per_unit_m3", sa.Float),
        sa.Column("price_per_unit", sa.Numeric(12, 2)),
        # The offer that puts the lot's stock on the market, kept in step with movements.
        _ref("offer_id", "offers.id", nullable=False, unique=True),
        _created_at(),
        sa.UniqueConstraint("hub_id", "code", name="uq_hub_lots_hub_code"),
        sa.CheckConstraint("condition IN ('A', 'B', 'C')", name="condition_known"),
        sa.CheckConstraint("unit IN ('kg', 't', 'm3', 'piece')", name="unit_known"),
    )
    op.create_table(
        "hub_movements",
        _id(),
        _ref("hub_id", "sites.id", nullable=False),
        _ref("lot_id", "hub_lots.id", nullable=False),
        sa.Column(
            "organization_id",
            postgresql.UUID(as_uuid=True),
            sa.ForeignKey("organizations.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("quantity_value", sa.Numeric(16, 3), nullable=False),
        sa.Column("mass_kg", sa.Float),
        sa.Column("volume_m3", sa.Float),
        _ref("offer_id", "offers.id"),
        _ref("match_id", "matches.id"),
        _ref("shipment_id", "shipments.id"),
        sa.Column("walk_in", sa.String(200)),
        sa.Column("note", sa.Text),
        _created_at(),
        sa.CheckConstraint("kind IN ('intake', 'dispatch')", name="kind_known"),
        sa.CheckConstraint("quantity_value > 0", name="positive"),
        sa.CheckConstraint(
            "(kind = 'intake' AND num_nonnulls(offer_id, walk_in) = 1 AND shipment_id IS NULL"
            " AND (match_id IS NULL OR offer_id IS NOT NULL))"
            " OR (kind = 'dispatch' AND num_nonnulls(match_id, shipment_id) = 1"
            " AND offer_id IS NULL AND walk_in IS NULL)",
            name="one_source_or_destination",
        ),
    )
    op.create_index("ix_hub_movements_lot", "hub_movements", ["lot_id"])
    op.create_index("ix_hub_movements_hub_created", "hub_movements", ["hub_id", "created_at"])
    # Stock is the sum of movements, so a movement is never edited or removed once written.
    op.execute(
        """
        CREATE FUNCTION hub_movements_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'hub_movements is append-only: record a new movement instead';
        END
        $$
        """
    )
    op.execute(
        """
        CREATE TRIGGER hub_movements_append_only BEFORE UPDATE OR DELETE ON hub_movements
        FOR EACH ROW EXECUTE FUNCTION hub_movements_append_only()
        """
    )

    op.add_column(
        "vehicles",
        sa.Column("stop_time_s", sa.Integer, nullable=False, server_default="0"),
    )
    op.add_column(
        "route_plans",
        sa.Column("mode", sa.String(10), nullable=False, server_default="direct"),
    )
    op.create_check_constraint(
        "ck_route_plans_mode_known", "route_plans", "mode IN ('direct', 'two_tier')"
    )


def downgrade() -> None:
    op.drop_column("route_plans", "mode")
    op.drop_column("vehicles", "stop_time_s")
    op.drop_table("hub_movements")
    op.execute("DROP FUNCTION hub_movements_append_only()")
    op.drop_table("hub_lots")
    op.drop_table("hub_pooling_thresholds")
    op.drop_table("hub_limits")
