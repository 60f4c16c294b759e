"""open data: the offers and requests still open today are those of today in Brussels

`current_date` is the day in the database session's time zone, UTC on a server: from 23:00 or
22:00 UTC the open data went on showing the listings that had ended the day before in
Brussels. The views now count Brussels days, as the statistics do (`stats.local_day`).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BRUSSELS_TODAY = "stats.local_day(now())"
SESSION_TODAY = "current_date"

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
   AND (o.available_until IS NULL OR o.available_until >= {today})
"""

OGC_REQUESTS = """
CREATE OR REPLACE VIEW ogc.requests AS
SELECT r.id, r.title, r.material, left(r.material, 2) AS chapter, c.chapter_title,
       r.quantity_value::float8 AS quantity_value, r.quantity_unit,
       r.remaining_value::float8 AS remaining_value, r.mass_kg::float8 AS mass_kg,
       r.min_condition,
       r.needed_from, r.needed_by,
       r.location::geometry(Point, 4326) AS geom
  FROM public.material_requests r
  LEFT JOIN LATERAL (
        SELECT chapter_title FROM public.materials WHERE chapter = left(r.material, 2) LIMIT 1
       ) c ON true
 WHERE r.status = 'open' AND r.remaining_value > 0 AND r.needed_by >= {today}
"""


def upgrade() -> None:
    for view in (OGC_OFFERS, OGC_REQUESTS):
        op.execute(view.format(today=BRUSSELS_TODAY))


def downgrade() -> None:
    for view in (OGC_OFFERS, OGC_REQUESTS):
        op.execute(view.format(today=SESSION_TODAY))
