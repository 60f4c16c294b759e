"""hubs in the open data only as their operators publish them: a hub or yard is in `ogc.hubs`
when its organization has the hub_operator role and has said it is public (`hub_publications`),
its stock and free room rounded to the tonne and the cubic metre unless it publishes them
exact

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Stock is the sum of the movements, shown to the unit (or to 3 decimals when published
# exact); free room is the whole hub's capacity less the stock as shown, so that it tells
# nothing more of the stock than the stock does. No function reads a table: the open data's
# role may only read the view.
OGC_HUBS = """
CREATE VIEW ogc.hubs AS
SELECT s.id, s.name, s.kind, l.max_t::float8 AS capacity_t, l.max_m3::float8 AS capacity_m3,
       shown.stock_t::float8 AS stock_t,
       shown.stock_m3::float8 AS stock_m3,
       (l.max_t - shown.stock_t)::float8 AS free_t,
       (l.max_m3 - shown.stock_m3)::float8 AS free_m3,
       p.stock AS public_stock,
       s.location::geometry(Point, 4326) AS geom
  FROM public.sites s
  JOIN public.hub_publications p ON p.hub_id = s.id AND p.public
  JOIN public.organizations o ON o.id = s.organization_id
  LEFT JOIN public.hub_limits l ON l.hub_id = s.id AND l.material = ''
  LEFT JOIN (
        SELECT hub_id,
               sum(CASE kind WHEN 'intake' THEN mass_kg ELSE -mass_kg END) / 1000.0 AS stock_t,
               sum(CASE kind WHEN 'intake' THEN volume_m3 ELSE -volume_m3 END) AS stock_m3
          FROM public.hub_movements
         GROUP BY hub_id
       ) st ON st.hub_id = s.id
 CROSS JOIN LATERAL (
        SELECT round(coalesce(st.stock_t, 0)::numeric, decimals) AS stock_t,
               round(coalesce(st.stock_m3, 0)::numeric, decimals) AS stock_m3
          FROM (VALUES (CASE p.stock WHEN 'exact' THEN 3 ELSE 0 END)) AS places (decimals)
       ) shown
 WHERE s.kind IN ('hub', 'yard') AND o.roles @> ARRAY['hub_operator']::varchar[]
"""

# As revision 0011 made it: every organization's yards and hubs, exact.
OGC_HUBS_BEFORE = """
CREATE VIEW ogc.hubs AS
SELECT s.id, s.name, s.kind, l.max_t::float8 AS capacity_t, l.max_m3::float8 AS capacity_m3,
       round(coalesce(st.stock_t, 0)::numeric, 3)::float8 AS stock_t,
       round(coalesce(st.stock_m3, 0)::numeric, 3)::float8 AS stock_m3,
       round((l.max_t - coalesce(st.stock_t, 0))::numeric, 3)::float8 AS free_t,
       round((l.max_m3 - coalesce(st.stock_m3, 0))::numeric, 3)::float8 AS free_m3,
       s.location::geometry(Point, 4326) AS geom
  FROM public.sites s
  LEFT JOIN public.hub_limits l ON l.hub_id = s.id AND l.material = ''
  LEFT JOIN (
        SELECT hub_id,
               sum(CASE kind WHEN 'intake' THEN mass_kg ELSE -mass_kg END) / 1000.0 AS stock_t,
               sum(CASE kind WHEN 'intake' THEN volume_m3 ELSE -volume_m3 END) AS stock_m3
          FROM public.hub_movements
         GROUP BY hub_id
       ) st ON st.hub_id = s.id
 WHERE s.kind IN ('hub', 'yard')
"""


def upgrade() -> None:
    op.create_table(
        "hub_publications",
        sa.Column(
            "hub_id",
            postgresql.UUID(as_uuid=True),
            sa.ForeignKey("sites.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("public", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("stock", sa.String(8), nullable=False, server_default="rounded"),
        sa.CheckConstraint("stock IN ('exact', 'rounded')", name="stock_known"),
    )
    op.execute("DROP VIEW ogc.hubs")
    op.execute(OGC_HUBS)


def downgrade() -> None:
    op.execute("DROP VIEW ogc.hubs")
    op.execute(OGC_HUBS_BEFORE)
    op.drop_table("hub_publications")
