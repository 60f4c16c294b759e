"""statistics that cannot be differenced: months published once and frozen

A figure used to be summed again at every read over any range of days, and shown when 3
organizations stood behind it, the request side of a match (a row of 0 t) counting as one: one
supplier with two buyers showed the supplier's tonnes, and two overlapping ranges, or a total
less the shown cells, gave a hidden figure.

Now a month that has ended in Brussels is computed once, the first time it is read (or by the
sweep early in the next month), and stored: `stats.published_months`, and in
`stats.published_cells` every cell of its linked table (communes x materials, and their
totals) with its value, or why it is hidden (`primary`: fewer than 3 organizations with a
non-zero amount, or one with more than 85 %; `secondary`: it would let a hidden cell be
computed). Later changes to old rows change no published month. `stats.flow_facts` counts a
match's tonnes on the offer's side, and gives the request's side the same tonnes, not counted
(`counted` false), so that the rule holds for the buyers too. `ogc.communes` is one feature
per commune per published month, read from the stored cells.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COMMUNE_MEASURES = (
    "offered_t",
    "requested_t",
    "proposed_t",
    "accepted_t",
    "fulfilled_t",
    "yard_intake_t",
    "yard_dispatch_t",
)

# One row per organization's part of a flow, as in 0011, but for matches: the offer's side
# carries the tonnes and counts; the request's side carries the same tonnes and does not count
# (`counted` false): the figure adds them once, and the rule that hides small cells checks
# the buyers as it checks the sellers.
FLOW_FACTS = """
CREATE OR REPLACE VIEW stats.flow_facts AS
SELECT 'offered_t'::text AS measure, o.mass_kg / 1000.0 AS value, o.organization_id,
       stats.commune_of(o.location) AS commune, o.material::text AS material,
       stats.local_day(o.created_at) AS day, NULL::text AS vehicle_type, true AS counted
  FROM public.offers o
 WHERE o.mass_kg IS NOT NULL
UNION ALL
SELECT 'requested_t', r.mass_kg / 1000.0, r.organization_id, stats.commune_of(r.location),
       r.material, stats.local_day(r.created_at), NULL, true
  FROM public.material_requests r
 WHERE r.mass_kg IS NOT NULL
UNION ALL
SELECT m.measure, m.mass_kg / 1000.0,
       CASE WHEN side.offer_side THEN o.organization_id ELSE r.organization_id END,
       stats.commune_of(o.location), o.material, m.day, NULL, side.offer_side
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
       stats.local_day(mv.created_at), NULL, true
  FROM public.hub_movements mv
  JOIN public.hub_lots l ON l.id = mv.lot_id
  JOIN public.sites s ON s.id = mv.hub_id
 WHERE mv.mass_kg IS NOT NULL
UNION ALL
SELECT 'route_km', (route ->> 'km')::numeric, p.organization_id, NULL, NULL, p.date,
       route ->> 'vehicle_type', true
  FROM public.route_plans p
 CROSS JOIN LATERAL jsonb_array_elements(p.result -> 'routes') AS route
 WHERE p.status = 'done'
UNION ALL
SELECT figure.measure, figure.value, p.organization_id, NULL, NULL, p.date, NULL, true
  FROM public.route_plans p
 CROSS JOIN LATERAL (VALUES
        ('plan_co2e_kg', (p.result -> 'kpis' ->> 'co2_kg')::numeric),
        ('baseline_co2e_kg', (p.result -> 'baseline' ->> 'co2_kg')::numeric),
        ('saving_co2e_kg', (p.result -> 'saving' ->> 'co2_kg')::numeric)
       ) AS figure (measure, value)
 WHERE p.status = 'done'
"""

# A cell missing from a published month is a true 0 (no organization contributes to it); a
# stored cell with no value is hidden. Figures are double precision: GIS clients read
# PostgreSQL's numeric, through tipg, as text. Plain SQL over tables, no function reading one:
# the open data's role may only select this view.
_FIGURE = (
    "CASE WHEN count(v.measure) FILTER (WHERE v.measure = '{m}') = 0 THEN 0 "
    "ELSE max(v.value) FILTER (WHERE v.measure = '{m}') END::float8 AS {m}"
)
OGC_COMMUNES = f"""
CREATE VIEW ogc.communes AS
SELECT c.nis_code || '-' || to_char(p.month, 'YYYY-MM') AS id, c.nis_code,
       to_char(p.month, 'YYYY-MM') AS month, c.name, c.name_fr, c.name_nl,
       {", ".join(_FIGURE.format(m=m) for m in COMMUNE_MEASURES)},
       c.geom
  FROM stats.published_months p
 CROSS JOIN public.communes c
  LEFT JOIN stats.published_cells v
         ON v.month = p.month AND v.commune_level = 'commune' AND v.commune = c.nis_code
        AND v.material_level = 'all'
 GROUP BY p.month, c.nis_code
"""

# What 0011 made, for the downgrade.
FLOW_FACTS_BEFORE = """
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

SHOWN_BEFORE = """
CREATE FUNCTION stats.shown(total numeric, organizations bigint) RETURNS numeric
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN organizations = 0 THEN 0
                WHEN organizations >= 3 THEN round(total, 3) END
$$
"""

_FIGURE_BEFORE = (
    "stats.shown(sum(f.value) FILTER (WHERE f.measure = '{m}'), "
    "count(DISTINCT f.organization_id) FILTER (WHERE f.measure = '{m}'))::float8 AS {m}"
)
OGC_COMMUNES_BEFORE = f"""
CREATE VIEW ogc.communes AS
SELECT c.nis_code AS id, c.nis_code, c.name, c.name_fr, c.name_nl,
       {", ".join(_FIGURE_BEFORE.format(m=m) for m in COMMUNE_MEASURES)},
       c.geom
  FROM public.communes c
  LEFT JOIN stats.flow_facts f ON f.commune = c.nis_code
 GROUP BY c.nis_code
"""


def upgrade() -> None:
    op.execute("DROP VIEW ogc.communes")
    op.execute("DROP FUNCTION stats.shown(numeric, bigint)")
    op.execute(FLOW_FACTS)
    op.create_table(
        "published_months",
        sa.Column("month", sa.Date, primary_key=True),
        sa.Column(
            "published_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.CheckConstraint("extract(day FROM month) = 1", name="first_day"),
        schema="stats",
    )
    op.create_table(
        "published_cells",
        sa.Column(
            "month",
            sa.Date,
            sa.ForeignKey("stats.published_months.month", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("measure", sa.Text, nullable=False),
        # For route km; null for every other measure.
        sa.Column("vehicle_type", sa.Text),
        sa.Column("commune_level", sa.Text, nullable=False),
        # A NIS code; null for no commune, and at the level `all` (the Region).
        sa.Column("commune", sa.String(5)),
        sa.Column("material_level", sa.Text, nullable=False),
        # A sub-chapter (or the chapter of a request naming none) at the level `subchapter`,
        # a chapter at `chapter`; null for no material, and at the level `all`.
        sa.Column("material", sa.String(6)),
        sa.Column("value", sa.Numeric),
        sa.Column("suppressed", sa.Text),
        sa.CheckConstraint("commune_level IN ('all', 'commune')", name="commune_level_known"),
        sa.CheckConstraint(
            "material_level IN ('all', 'chapter', 'subchapter')", name="material_level_known"
        ),
        sa.CheckConstraint(
            "commune_level = 'commune' OR commune IS NULL", name="region_no_commune"
        ),
        sa.CheckConstraint("material_level <> 'all' OR material IS NULL", name="all_no_material"),
        sa.CheckConstraint("suppressed IN ('primary', 'secondary')", name="suppressed_known"),
        sa.CheckConstraint("(value IS NULL) = (suppressed IS NOT NULL)", name="hidden_no_value"),
        schema="stats",
    )
    op.execute(
        "CREATE UNIQUE INDEX published_cells_key ON stats.published_cells "
        "(month, measure, vehicle_type, commune_level, commune, material_level, material) "
        "NULLS NOT DISTINCT"
    )
    # What the API and `ogc.communes` read: one level of each dimension, by month.
    op.execute(
        "CREATE INDEX published_cells_level ON stats.published_cells "
        "(commune_level, material_level, month)"
    )
    op.execute(OGC_COMMUNES)


def downgrade() -> None:
    op.execute("DROP VIEW ogc.communes")
    op.drop_table("published_cells", schema="stats")
    op.drop_table("published_months", schema="stats")
    op.execute("DROP VIEW stats.flow_facts")
    op.execute(FLOW_FACTS_BEFORE)
    op.execute(SHOWN_BEFORE)
    op.execute(OGC_COMMUNES_BEFORE)
