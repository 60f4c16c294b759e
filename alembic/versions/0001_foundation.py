"""foundation: reference data, organizations, sites, offers, requests, idempotency keys

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql

from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROLES = ("supplier", "consumer", "hub_operator", "carrier", "admin")
SITE_KINDS = ("production", "construction_site", "shop", "hub", "yard", "office", "other")
UNITS = ("kg", "t", "m3", "piece")
CONDITIONS = ("A", "B", "C")
STATUSES = ("open", "reserved", "closed")


def _in(column: str, values: Sequence[str]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _timestamps() -> list[sa.Column]:
    return [
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
    ]


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
    ]


def _located() -> list[sa.Column]:
    return [
        sa.Column(
            "site_id", postgresql.UUID(as_uuid=True), sa.ForeignKey("sites.id", ondelete="RESTRICT")
        ),
        sa.Column("location", Geometry("POINT", srid=4326, spatial_index=False), nullable=False),
    ]


def _quantities() -> list[sa.Column]:
    return [
        sa.Column("quantity_value", sa.Numeric(16, 3), nullable=False),
        sa.Column("quantity_unit", sa.String(8), nullable=False),
        sa.Column("remaining_value", sa.Numeric(16, 3), nullable=False),
        sa.Column("mass_kg", sa.Numeric(16, 3)),
        sa.Column("volume_m3", sa.Numeric(16, 3)),
        sa.CheckConstraint("quantity_value > 0", name="quantity_positive"),
        sa.CheckConstraint(
            "remaining_value >= 0 AND remaining_value <= quantity_value", name="remaining_in_range"
        ),
        sa.CheckConstraint(_in("quantity_unit", UNITS), name="unit_known"),
    ]


def _geography_index(table: str) -> None:
    # Distance queries cast to geography (metres on the spheroid); the index is on that cast.
    op.execute(
        f"CREATE INDEX ix_{table}_location_geog ON {table} USING gist ((location::geography))"
    )


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS postgis")

    op.create_table(
        "materials",
        sa.Column("code", sa.String(6), primary_key=True),
        sa.Column("display", sa.String(12), nullable=False),
        sa.Column("chapter", sa.String(2), nullable=False, index=True),
        sa.Column("subchapter", sa.String(4), nullable=False, index=True),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("hazardous", sa.Boolean, nullable=False),
        sa.Column("chapter_title", sa.Text, nullable=False),
        sa.Column("subchapter_title", sa.Text, nullable=False),
        sa.Column("entry_type", sa.String(32), nullable=False),
        sa.CheckConstraint("code ~ '^[0-9]{6}$'", name="code_six_digits"),
    )
    op.create_table(
        "service_areas",
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("geom", Geometry("MULTIPOLYGON", srid=4326, spatial_index=False), nullable=False),
    )
    op.create_table(
        "organizations",
        sa.Column("id", postgresql.UUID(as_uuid=True), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("roles", postgresql.ARRAY(sa.String(20)), nullable=False),
        *_timestamps(),
        sa.CheckConstraint(
            f"roles <@ ARRAY[{', '.join(repr(r) for r in ROLES)}]::varchar[]", name="roles_known"
        ),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", postgresql.UUID(as_uuid=True), primary_key=True),
        sa.Column(
            "organization_id",
            postgresql.UUID(as_uuid=True),
            sa.ForeignKey("organizations.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column("revoked_at", sa.DateTime(timezone=True)),
    )
    op.create_table(
        "sites",
        *_owned(),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("address", sa.Text),
        sa.Column("location", Geometry("POINT", srid=4326, spatial_index=False), nullable=False),
        sa.Column("opening_hours", sa.Text),
        sa.Column("access_notes", sa.Text),
        sa.Column("version", sa.Integer, nullable=False, server_default="1"),
        *_timestamps(),
        sa.CheckConstraint(_in("kind", SITE_KINDS), name="kind_known"),
    )
    _geography_index("sites")

    op.create_table(
        "offers",
        *_owned(),
        *_located(),
        sa.Column(
            "material", sa.String(6), sa.ForeignKey("materials.code"), nullable=False, index=True
        ),
        sa.Column("item_type", sa.String(100)),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("description", sa.Text),
        *_quantities(),
        sa.Column("available_from", sa.Date, nullable=False),
        sa.Column("available_until", sa.Date),
        sa.Column("condition", sa.String(1), nullable=False),
        sa.Column("min_lot", sa.Numeric(16, 3)),
        sa.Column("price_per_unit", sa.Numeric(12, 2)),
        sa.Column("status", sa.String(12), nullable=False, server_default="open"),
        sa.Column("notes", sa.Text),
        sa.Column("version", sa.Integer, nullable=False, server_default="1"),
        *_timestamps(),
        sa.CheckConstraint(
            "available_until IS NULL OR available_from <= available_until", name="window_ordered"
        ),
        sa.CheckConstraint(_in("condition", CONDITIONS), name="condition_known"),
        sa.CheckConstraint(_in("status", STATUSES), name="status_known"),
        sa.CheckConstraint(
            "min_lot IS NULL OR (min_lot > 0 AND min_lot <= quantity_value)",
            name="min_lot_in_range",
        ),
    )
    _geography_index("offers")

    op.create_table(
        "material_requests",
        *_owned(),
        *_located(),
        sa.Column("material", sa.String(6), nullable=False, index=True),
        sa.Column("title", sa.String(200)),
        sa.Column("description", sa.Text),
        *_quantities(),
        sa.Column("needed_from", sa.Date, nullable=False),
        sa.Column("needed_by", sa.Date, nullable=False),
        sa.Column("max_distance_km", sa.Numeric(8, 3), nullable=False),
        sa.Column("min_condition", sa.String(1), nullable=False),
        sa.Column("max_price_per_unit", sa.Numeric(12, 2)),
        sa.Column("status", sa.String(12), nullable=False, server_default="open"),
        sa.Column("notes", sa.Text),
        sa.Column("version", sa.Integer, nullable=False, server_default="1"),
        *_timestamps(),
        sa.CheckConstraint("needed_from <= needed_by", name="window_ordered"),
        sa.CheckConstraint(
            "material ~ '^([0-9]{2}|[0-9]{4}|[0-9]{6})$'", name="material_code_shape"
        ),
        sa.CheckConstraint("max_distance_km > 0", name="max_distance_positive"),
        sa.CheckConstraint(_in("min_condition", CONDITIONS), name="condition_known"),
        sa.CheckConstraint(_in("status", STATUSES), name="status_known"),
    )
    _geography_index("material_requests")

    op.create_table(
        "idempotency_keys",
        sa.Column("principal", sa.String(64), primary_key=True),
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("method", sa.String(8), nullable=False),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("status_code", sa.Integer),
        sa.Column("response_headers", postgresql.JSONB),
        sa.Column("response_body", sa.LargeBinary),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            nullable=False,
            server_default=sa.func.now(),
            index=True,
        ),
    )


def downgrade() -> None:
    for table in (
        "idempotency_keys",
        "material_requests",
        "offers",
        "sites",
        "api_keys",
        "organizations",
        "service_areas",
        "materials",
    ):
        op.drop_table(table)
