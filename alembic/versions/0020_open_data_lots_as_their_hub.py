"""open data: a yard's lots are in `ogc.offers` only where its hub shows exact figures

Each lot of a yard is on the market as an offer of its operator, at the hub's point with the
lot's exact quantities: in the open data, the lots of a hub that is not public would place it,
and those of a hub published rounded would give its exact stock. They stay on the market for
the organizations (the API); the open data shows them only with a hub published exact.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OGC_OFFERS = """
CREATE OR REPLACE VIEW ogc.offers AS
SELECT o.id, o.title, o.material, m.chapter, m.chapter_title, o.item_type,
       o.quantity_value::float8 AS quantity_value, o.quantity_unit,
       o.remaining_value::float8 AS remaining_value, o.mass_kg::float8 AS mass_kg, o.condition,
       o.available_from, o.available_until,
       o.location::geometry(Point, 4326) AS geom
  FROM public.offers o
  JOIN public.materials m ON m.code = o.material
 WHERE o.status = 'open' AND o.remaining_value > 0
   AND (o.available_until IS NULL OR o.available_until >= stats.local_day(now()))
   {lots}
"""

LOTS_OF_EXACT_HUBS_ALONE = """
   AND NOT EXISTS (
        SELECT 1
          FROM public.hub_lots l
         WHERE l.offer_id = o.id
           AND NOT EXISTS (
                SELECT 1 FROM ogc.hubs h WHERE h.id = l.hub_id AND h.public_stock = 'exact'
               )
       )
"""


def upgrade() -> None:
    op.execute(OGC_OFFERS.format(lots=LOTS_OF_EXACT_HUBS_ALONE))


def downgrade() -> None:
    op.execute(OGC_OFFERS.format(lots=""))
