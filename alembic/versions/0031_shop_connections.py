"""e-shop connections (COMM 12): a shop's WooCommerce, Shopify or PrestaShop store sends its
orders, and boucle books their deliveries into the shared rounds

A connection is the shop's store: the platform, the pickup site, Shopify's shop domain, the
secret the platform signs with (kept as the webhooks' secrets are: the HMAC needs it) and the
parcel defaults. Each order a store sends is a row, booked or held as `needs_attention` with
the reason, at most one per platform order id and connection. A platform's webhook delivery
id is kept, so that a delivery sent again is taken once.

The service role's grants on the new tables come from 0014's default privileges.

Revision ID: 0031
Revises: 0030
Create Date: 2026-12-08
"""

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision: str = "0031"
down_revision: str | None = "0030"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PLATFORMS = ("woocommerce", "shopify", "prestashop")
ORDER_STATUSES = ("received", "booked", "needs_attention", "cancelled")


def _among(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


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


def upgrade() -> None:
    op.create_table(
        "shop_connections",
        *_owned(),
        sa.Column("platform", sa.String(20), nullable=False),
        sa.Column(
            "pickup_site_id",
            postgresql.UUID(as_uuid=True),
            sa.ForeignKey("sites.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("shop_domain", sa.String(255)),
        sa.Column("secret", sa.Text, nullable=False),
        sa.Column("default_weight_kg", sa.Float, nullable=False),
        sa.Column("default_volume_m3", sa.Float, nullable=False),
        sa.CheckConstraint(_among("platform", PLATFORMS), name="platform_known"),
        sa.CheckConstraint(
            "default_weight_kg > 0 AND default_volume_m3 > 0", name="defaults_positive"
        ),
        sa.CheckConstraint(
            "(platform = 'shopify') = (shop_domain IS NOT NULL)", name="shopify_has_domain"
        ),
    )
    # Shopify's webhooks name the shop by its domain: one connection a domain.
    op.create_index(
        "ix_shop_connections_shop_domain",
        "shop_connections",
        ["shop_domain"],
        unique=True,
        postgresql_where=sa.text("shop_domain IS NOT NULL"),
    )
    op.create_table(
        "shop_orders",
        *_owned(),
        sa.Column(
            "connection_id",
            postgresql.UUID(as_uuid=True),
            sa.ForeignKey("shop_connections.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("platform_order_id", sa.String(64), nullable=False),
        sa.Column("reference", sa.String(200)),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("reason", sa.Text),
        # What the order asks, read from the platform's payload (the address, the point when
        # given, the weight, the slot chosen), changed by the shop when it fixes it.
        sa.Column("asked", postgresql.JSONB, nullable=False),
        sa.Column(
            "delivery_id",
            postgresql.UUID(as_uuid=True),
            sa.ForeignKey("deliveries.id", ondelete="SET NULL"),
        ),
        sa.UniqueConstraint("connection_id", "platform_order_id", name="one_row_an_order"),
        sa.CheckConstraint(_among("status", ORDER_STATUSES), name="status_known"),
    )
    op.create_table(
        "shop_webhook_receipts",
        sa.Column(
            "connection_id",
            postgresql.UUID(as_uuid=True),
            sa.ForeignKey("shop_connections.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("delivery_id", sa.String(100), primary_key=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("shop_webhook_receipts")
    op.drop_table("shop_orders")
    op.drop_table("shop_connections")
