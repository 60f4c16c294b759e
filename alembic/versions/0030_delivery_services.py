"""shared delivery rounds (COMM 12): carriers' delivery services, their slots, shops' quotes and
deliveries

A carrier publishes a delivery service: the zone it serves, the hub its rounds ride from, its
weekdays and slots with their cut-offs, the vehicles that ride them, its prices and the largest
parcel it takes. A shop (the new role `shop`) asks for a quote and books a delivery into a
slot's round; each slot keeps the round its bookings were inserted into (`plan`), and its row is
the lock every booking of the slot holds, so that nothing is booked beyond what it can carry.

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-08
"""

from collections.abc import Sequence

import sqlalchemy as sa
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql

from alembic import op

revision: str = "0030"
down_revision: str | None = "0029"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROLES_BEFORE = ("supplier", "consumer", "hub_operator", "carrier", "admin", "observer")
ROLES = (*ROLES_BEFORE, "shop")
DELIVERY_STATUSES = ("booked", "planned", "cancelled", "needs_attention")
SLOT_STATUSES = ("open", "planning", "planned")


def _roles_check(roles: tuple[str, ...]) -> str:
    return f"roles <@ ARRAY[{', '.join(repr(r) for r in roles)}]::varchar[]"


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
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer, nullable=False, server_default="1"),
    ]


def _point(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, Geometry("POINT", srid=4326, spatial_index=False), nullable=nullable)


def _money(name: str) -> sa.Column:
    return sa.Column(name, sa.Numeric(12, 4, asdecimal=False), nullable=False)


def _among(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def upgrade() -> None:
    # A slot's rounds as booked, where its cut-off's plan starts from.
    op.add_column("route_plans", sa.Column("initial_routes", postgresql.JSONB))
    op.drop_constraint("roles_known", "organizations", type_="check")
    op.create_check_constraint("roles_known", "organizations", _roles_check(ROLES))
    op.create_table(
        "delivery_services",
        *_owned(),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column(
            "hub_site_id",
            postgresql.UUID(as_uuid=True),
            sa.ForeignKey("sites.id", ondelete="RESTRICT"),
            nullable=False,
        ),
        sa.Column(
            "district_slugs", postgresql.ARRAY(sa.String(120)), nullable=False, server_default="{}"
        ),
        sa.Column(
            "zone",
            Geometry("MULTIPOLYGON", srid=4326, spatial_index=False),
            nullable=False,
        ),
        sa.Column("weekdays", postgresql.ARRAY(sa.SmallInteger), nullable=False),
        sa.Column("slots", postgresql.JSONB, nullable=False),
        sa.Column("vehicle_ids", postgresql.ARRAY(postgresql.UUID(as_uuid=True)), nullable=False),
        _money("price_per_delivery"),
        _money("price_per_kg"),
        sa.Column("included_kg", sa.Float, nullable=False),
        sa.Column("vat_rate", sa.Numeric(5, 4, asdecimal=False), nullable=False),
        sa.Column("max_parcel_kg", sa.Float, nullable=False),
        sa.Column("max_parcel_m3", sa.Float, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.CheckConstraint(
            "price_per_delivery >= 0 AND price_per_kg >= 0 AND included_kg >= 0"
            " AND vat_rate >= 0 AND vat_rate < 1 AND max_parcel_kg > 0 AND max_parcel_m3 > 0",
            name="terms_in_range",
        ),
    )
    op.execute(
        "CREATE INDEX ix_delivery_services_zone ON delivery_services USING gist (zone) WHERE active"
    )
    op.create_table(
        "delivery_slots",
        sa.Column("id", postgresql.UUID(as_uuid=True), primary_key=True),
        sa.Column(
            "service_id",
            postgresql.UUID(as_uuid=True),
            sa.ForeignKey("delivery_services.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cutoff_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(12), nullable=False, server_default="open"),
        # The round its bookings were inserted into: each vehicle's stops, in order.
        sa.Column("plan", postgresql.JSONB, nullable=False, server_default="{}"),
        sa.Column(
            "route_plan_id",
            postgresql.UUID(as_uuid=True),
            sa.ForeignKey("route_plans.id", ondelete="SET NULL"),
        ),
        sa.UniqueConstraint("service_id", "starts_at", name="one_slot_a_start"),
        sa.CheckConstraint(_among("status", SLOT_STATUSES), name="status_known"),
        sa.CheckConstraint("starts_at < ends_at AND cutoff_at <= starts_at", name="ordered"),
    )
    op.create_index("ix_delivery_slots_cutoff_at", "delivery_slots", ["cutoff_at"])
    op.create_table(
        "delivery_quotes",
        *_owned(),
        # What the shop asked, and the options answered, as the API showed them.
        sa.Column("asked", postgresql.JSONB, nullable=False),
        sa.Column("options", postgresql.JSONB, nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "deliveries",
        *_owned(),
        sa.Column(
            "service_id",
            postgresql.UUID(as_uuid=True),
            sa.ForeignKey("delivery_services.id", ondelete="RESTRICT"),
            nullable=False,
            index=True,
        ),
        sa.Column(
            "slot_id",
            postgresql.UUID(as_uuid=True),
            sa.ForeignKey("delivery_slots.id", ondelete="RESTRICT"),
            nullable=False,
            index=True,
        ),
        sa.Column(
            "quote_id",
            postgresql.UUID(as_uuid=True),
            sa.ForeignKey("delivery_quotes.id", ondelete="SET NULL"),
        ),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("reference", sa.String(200)),
        sa.Column(
            "pickup_site_id",
            postgresql.UUID(as_uuid=True),
            sa.ForeignKey("sites.id", ondelete="SET NULL"),
        ),
        _point("pickup_location"),
        _point("dropoff_location"),
        sa.Column("dropoff_address", sa.Text),
        sa.Column("parcels", sa.Integer, nullable=False),
        sa.Column("weight_kg", sa.Float, nullable=False),
        sa.Column("volume_m3", sa.Float, nullable=False),
        sa.Column("deliver_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deliver_until", sa.DateTime(timezone=True), nullable=False),
        _money("price_excl_vat"),
        _money("price_incl_vat"),
        sa.Column("vat_rate", sa.Numeric(5, 4, asdecimal=False), nullable=False),
        sa.Column("co2e_g", sa.Float, nullable=False),
        sa.Column("van_co2e_g", sa.Float, nullable=False),
        sa.Column("cancelled_at", sa.DateTime(timezone=True)),
        sa.CheckConstraint(_among("status", DELIVERY_STATUSES), name="status_known"),
        sa.CheckConstraint(
            "parcels > 0 AND weight_kg > 0 AND volume_m3 > 0", name="parcels_positive"
        ),
        sa.CheckConstraint("deliver_from < deliver_until", name="window_ordered"),
    )


def downgrade() -> None:
    op.drop_table("deliveries")
    op.drop_table("delivery_quotes")
    op.drop_table("delivery_slots")
    op.drop_table("delivery_services")
    op.execute("UPDATE organizations SET roles = array_remove(roles, 'shop')")
    op.drop_constraint("roles_known", "organizations", type_="check")
    op.create_check_constraint("roles_known", "organizations", _roles_check(ROLES_BEFORE))
    op.drop_column("route_plans", "initial_routes")
