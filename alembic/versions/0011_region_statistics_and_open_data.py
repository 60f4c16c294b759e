"""the Region's statistics and open data: the 19 communes, the `observer` role, when a match
was fulfilled, one view of every flow (`stats.flow_facts`) with the rule that hides small
cells (`stats.shown`), and the `ogc` schema of public views that tipg serves

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from geoalchemy2 import Geometry

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROLES_BEFORE = ("supplier", "consumer", "hub_operator", "carrier", "admin")
ROLES = (*ROLES_BEFORE, "observer")


def _roles_check(roles: tuple[str, ...]) -> str:
    return f"roles <@ ARRAY[{', '.join(repr(r) for r in roles)}]::varchar[]"


# A figure is shown when at least 3 organizations stand behind it, so that no company's
# volumes can be read off an aggregate; no organization at all means a true 0.
SHOWN = """
CREATE FUNCTION stats.shown(total numeric, organizations bigint) RETURNS numeric
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN organizations = 0 THEN 0
                WHEN organizations >= 3 THEN round(total, 3) END
$$
"""

# A point on the line between two communes belongs to the one with the lower NIS code.
COMMUNE_OF = """
CREATE FUNCTION stats.commune_of(place geometry) RETURNS varchar
LANGUAGE sql STABLE AS $$
    SELECT nis_code FROM public.communes WHERE ST_Covers(geom, place) ORDER BY nis_code LIMIT 1
$$
"""

LOCAL_DAY = """
CREATE FUNCTION stats.local_day(moment timestamptz) RETURNS date
LANGUAGE sql IMMUTABLE AS $$ SELECT (moment AT TIME ZONE 'Europe/Brussels')::date $$
"""

# One row per organization's part of a flow: what it is (`measure`), how much (`value`, tonnes,
# km or kg CO2e), whose it is, where (commune), of what (material), when (day in Brussels) and,
# for route km, on which vehicle type. A match is two organizations' flow: the offer's side
# carries the tonnes and the request's side a row of 0, so that the tonnes count once and both
# organizations count in the cell. A match is placed where its offer is: where the material
# leaves. Rounds carry mixed loads across communes: they have neither commune nor material.
FLOW_FACTS = """
CREATE VIEW stats.flow_facts AS
SELECT 'offered_t'::text AS measure, o.mass_kg / 1000.0 AS value, o.organization_id,
       stats.commune_of(o.location) AS commune, o.material::text AS material,
       stats.local_day(o.created_at) AS day, NULL::text AS vehicle_type
  FROM public.offers o
 WHERE o.mass_kg IS NOT NULL
UNION ALL
SELECT 'requested_t', r.mass_kg / 1000.0, r.organization_id, stats.commune_of(r.location),
       r.material, stats.local_day(r.created_at), NULL
  FROM public.material_requests r
 WHERE r.mass_kg IS NOT NULL
UNION ALL
SELECT m.measure,
       CASE WHEN side.offer_side THEN m.mass_kg / 1000.0 ELSE 0 END,
       CASE WHEN side.offer_side THEN o.organization_id ELSE r.organization_id END,
       stats.commune_of(o.location), o.material, m.day, NULL
  FROM (
        SELECT 'proposed_t'::text AS measure, offer_id, request_id, mass_kg,
               stats.local_day(created_at) AS day
          FROM public.matches
        UNION ALL
        SELECT 'accepted_t', offer_id, request_id, mass_kg,
               stats.local_day(greatest(offer_accepted_at, request_accepted_at))
          FROM public.matches
         WHERE status IN ('accepted', 'fulfilled')
        UNION ALL
        SELECT 'fulfilled_t', offer_id, request_id, mass_kg, stats.local_day(fulfilled_at)
          FROM public.matches
         WHERE status = 'fulfilled'
       ) m
  JOIN public.offers o ON o.id = m.offer_id
  JOIN public.material_requests r ON r.id = m.request_id
 CROSS JOIN (VALUES (true), (false)) AS side (offer_side)
 WHERE m.mass_kg IS NOT NULL
UNION ALL
SELECT CASE mv.kind WHEN 'intake' THEN 'yard_intake_t' ELSE 'yard_dispatch_t' END,
       mv.mass_kg::numeric / 1000, mv.organization_id, stats.commune_of(s.location), l.material,
       stats.local_day(mv.created_at), NULL
  FROM public.hub_movements mv
  JOIN public.hub_lots l ON l.id = mv.lot_id
  JOIN public.sites s ON s.id = mv.hub_id
 WHERE mv.mass_kg IS NOT NULL
UNION ALL
SELECT 'route_km', (route ->> 'km')::numeric, p.organization_id, NULL, NULL, p.date,
       route ->> 'vehicle_type'
  FROM public.route_plans p
 CROSS JOIN LATERAL jsonb_array_elements(p.result -> 'routes') AS route
 WHERE p.status = 'done'
UNION ALL
SELECT figure.measure, figure.value, p.organization_id, NULL, NULL, p.date, NULL
  FROM public.route_plans p
 CROSS JOIN LATERAL (VALUES
        ('plan_co2e_kg', (p.result -> 'kpis' ->> 'co2_kg')::numeric),
        ('baseline_co2e_kg', (p.result -> 'baseline' ->> 'co2_kg')::numeric),
        ('saving_co2e_kg', (p.result -> 'saving' ->> 'co2_kg')::numeric)
       ) AS figure (measure, value)
 WHERE p.status = 'done'
"""

# The open data: public fields only (no notes, no site, no organization, no price). Figures
# are double precision: GIS clients read PostgreSQL's numeric, through tipg, as text.
OGC_OFFERS = """
CREATE VIEW ogc.offers AS
SELECT o.id, o.title, o.material, m.chapter, m.chapter_title, o.item_type,
       o.quantity_value::float8 AS quantity_value, o.quantity_unit,
       o.remaining_value::float8 AS remaining_value, o.mass_kg::float8 AS mass_kg, o.condition,
       o.available_from, o.available_until,
       o.location::geometry(Point, 4326) AS geom
  FROM public.offers o
  JOIN public.materials m ON m.code = o.material
 WHERE o.status = 'open' AND o.remaining_value > 0
   AND (o.available_until IS NULL OR o.available_until >= current_date)
"""

OGC_REQUESTS = """
CREATE VIEW ogc.requests AS
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
 WHERE r.status = 'open' AND r.remaining_value > 0 AND r.needed_by >= current_date
"""

# Stock in tonnes and m3 is the sum of the movements; free room is the whole hub's capacity
# less it (none when no capacity is set).
OGC_HUBS = """
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


def _commune_figure(measure: str) -> str:
    return (
        f"stats.shown(sum(f.value) FILTER (WHERE f.measure = '{measure}'), "
        f"count(DISTINCT f.organization_id) FILTER (WHERE f.measure = '{measure}'))::float8 "
        f"AS {measure}"
    )


COMMUNE_MEASURES = (
    "offered_t",
    "requested_t",
    "proposed_t",
    "accepted_t",
    "fulfilled_t",
    "yard_intake_t",
    "yard_dispatch_t",
)

OGC_COMMUNES = f"""
CREATE VIEW ogc.communes AS
SELECT c.nis_code AS id, c.nis_code, c.name, c.name_fr, c.name_nl,
       {", ".join(_commune_figure(m) for m in COMMUNE_MEASURES)},
       c.geom
  FROM public.communes c
  LEFT JOIN stats.flow_facts f ON f.commune = c.nis_code
 GROUP BY c.nis_code
"""


def upgrade() -> None:
    op.create_table(
        "communes",
        sa.Column("nis_code", sa.String(5), primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("name_fr", sa.Text, nullable=False),
        sa.Column("name_nl", sa.Text, nullable=False),
        sa.Column("geom", Geometry("MULTIPOLYGON", srid=4326, spatial_index=False), nullable=False),
    )
    op.execute("CREATE INDEX ix_communes_geom ON communes USING gist (geom)")
    op.drop_constraint("roles_known", "organizations", type_="check")
    op.create_check_constraint("roles_known", "organizations", _roles_check(ROLES))
    op.add_column("matches", sa.Column("fulfilled_at", sa.DateTime(timezone=True)))
    op.execute("UPDATE matches SET fulfilled_at = updated_at WHERE status = 'fulfilled'")

    op.execute("CREATE SCHEMA stats")
    for statement in (SHOWN, COMMUNE_OF, LOCAL_DAY, FLOW_FACTS):
        op.execute(statement)
    op.execute("CREATE SCHEMA ogc")
    for statement in (OGC_OFFERS, OGC_REQUESTS, OGC_HUBS, OGC_COMMUNES):
        op.execute(statement)


def downgrade() -> None:
    op.execute("DROP SCHEMA ogc CASCADE")
    op.execute("DROP SCHEMA stats CASCADE")
    op.drop_column("matches", "fulfilled_at")
    op.execute("UPDATE organizations SET roles = array_remove(roles, 'observer')")
    op.drop_constraint("roles_known", "organizations", type_="check")
    op.create_check_constraint("roles_known", "organizations", _roles_check(ROLES_BEFORE))
    op.drop_table("communes")
