"""statistics kept, not recomputed: each place's commune stored with it, the flows' days and
the open data's boxes indexed

A month of statistics was computed by placing every row of the month in its commune, a
point-in-polygon per offer, request and movement (`stats.commune_of`), over whole tables (the
day of a row had no index). Now:

- offers, requests and sites carry their `commune`, set by a trigger whenever their location
  is written (the migration fills the rows already there), and set again for every place when
  the communes' outlines change (the reference data loaded again with other boundaries);
  `stats.flow_facts` reads it, with the same rule (a point on a boundary belongs to the lower
  NIS code), so that every figure is the same;
- the day each flow counts in (`stats.local_day` of its moment) is indexed on each table the
  flows read, so that a month reads its own rows alone;
- the open data filters its offers, requests and hubs by box (and by tile): each table has a
  GiST index on its location, restricted as its view is (the listings still open, the hubs
  and yards), which a box on the view's `geom` uses;
- `ogc.communes` computes each feature's figures in a subquery of its own instead of grouping
  the whole view, so that a box, a commune or a month asked for filters the communes and the
  months before their figures are read.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PLACES = ("offers", "material_requests", "sites")

# The commune is computed from the location, by the rule of `stats.commune_of`: written with
# the location, it cannot be given otherwise.
PLACE_COMMUNE = """
CREATE FUNCTION stats.place_commune() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.commune := stats.commune_of(NEW.location);
    RETURN NEW;
END
$$
"""

# Every place whose commune the communes' new outlines change.
PLACES_AGAIN = """
CREATE FUNCTION stats.place_again() RETURNS void
LANGUAGE sql AS $$
    UPDATE public.offers SET commune = stats.commune_of(location)
     WHERE commune IS DISTINCT FROM stats.commune_of(location);
    UPDATE public.material_requests SET commune = stats.commune_of(location)
     WHERE commune IS DISTINCT FROM stats.commune_of(location);
    UPDATE public.sites SET commune = stats.commune_of(location)
     WHERE commune IS DISTINCT FROM stats.commune_of(location);
$$
"""

# The reference data is loaded again at each start of `make run`, an upsert of the same
# outlines: the places are placed again only when a commune is added, removed or redrawn.
COMMUNES_CHANGED = """
CREATE FUNCTION stats.communes_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NOT EXISTS (SELECT 1 FROM after) THEN
            RETURN NULL;
        END IF;
    ELSIF TG_OP = 'DELETE' THEN
        IF NOT EXISTS (SELECT 1 FROM before) THEN
            RETURN NULL;
        END IF;
    ELSIF TG_OP = 'UPDATE' THEN
        IF NOT EXISTS (
            SELECT 1 FROM before b FULL JOIN after a USING (nis_code)
             WHERE a.geom IS NULL OR b.geom IS NULL OR NOT ST_Equals(a.geom, b.geom)
        ) THEN
            RETURN NULL;
        END IF;
    END IF;
    PERFORM stats.place_again();
    RETURN NULL;
END
$$
"""
COMMUNES_TRIGGERS = (
    ("communes_added", "INSERT", "REFERENCING NEW TABLE AS after"),
    ("communes_removed", "DELETE", "REFERENCING OLD TABLE AS before"),
    ("communes_redrawn", "UPDATE", "REFERENCING OLD TABLE AS before NEW TABLE AS after"),
    ("communes_emptied", "TRUNCATE", ""),
)

# The 0018 view with each place's commune read from its row.
FLOW_FACTS = """
CREATE OR REPLACE VIEW stats.flow_facts AS
SELECT 'offered_t'::text AS measure, o.mass_kg / 1000.0 AS value, o.organization_id,
       o.commune::varchar AS commune, o.material::text AS material,
       stats.local_day(o.created_at) AS day, NULL::text AS vehicle_type, true AS counted
  FROM public.offers o
 WHERE o.mass_kg IS NOT NULL
UNION ALL
SELECT 'requested_t', r.mass_kg / 1000.0, r.organization_id, r.commune::varchar,
       r.material, stats.local_day(r.created_at), NULL, true
  FROM public.material_requests r
 WHERE r.mass_kg IS NOT NULL
UNION ALL
SELECT m.measure, m.mass_kg / 1000.0,
       CASE WHEN side.offer_side THEN o.organization_id ELSE r.organization_id END,
       o.commune::varchar, o.material, m.day, NULL, side.offer_side
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
       mv.mass_kg::numeric / 1000, mv.organization_id, s.commune::varchar, l.material,
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

# The day each branch of `stats.flow_facts` counts its rows in: (index, table, expression,
# the rows it covers).
DAYS = (
    ("ix_offers_local_day", "offers", "stats.local_day(created_at)", None),
    ("ix_material_requests_local_day", "material_requests", "stats.local_day(created_at)", None),
    ("ix_matches_proposed_day", "matches", "stats.local_day(created_at)", None),
    (
        "ix_matches_accepted_day",
        "matches",
        "stats.local_day(greatest(offer_accepted_at, request_accepted_at))",
        "status IN ('accepted', 'fulfilled')",
    ),
    (
        "ix_matches_fulfilled_day",
        "matches",
        "stats.local_day(fulfilled_at)",
        "status = 'fulfilled'",
    ),
    ("ix_hub_movements_local_day", "hub_movements", "stats.local_day(created_at)", None),
    ("ix_route_plans_done_date", "route_plans", "date", "status = 'done'"),
)

# The rows of each open data view, as its WHERE clause has them (the view's other conditions
# change with the day or read other tables).
OPEN_PLACES = (
    ("ix_offers_open_location", "offers", "status = 'open' AND remaining_value > 0"),
    (
        "ix_material_requests_open_location",
        "material_requests",
        "status = 'open' AND remaining_value > 0",
    ),
    ("ix_sites_hub_location", "sites", "kind IN ('hub', 'yard')"),
)

MEASURES = (
    "offered_t",
    "requested_t",
    "proposed_t",
    "accepted_t",
    "fulfilled_t",
    "yard_intake_t",
    "yard_dispatch_t",
)
# As in 0018: a cell missing from a published month is a true 0, a stored cell with no value
# is hidden.
_FIGURE = (
    "CASE WHEN count(v.measure) FILTER (WHERE v.measure = '{m}') = 0 THEN 0 "
    "ELSE max(v.value) FILTER (WHERE v.measure = '{m}') END::float8 AS {m}"
)
OGC_COMMUNES = f"""
CREATE OR REPLACE VIEW ogc.communes AS
SELECT c.nis_code || '-' || to_char(p.month, 'YYYY-MM') AS id, c.nis_code,
       to_char(p.month, 'YYYY-MM') AS month, c.name, c.name_fr, c.name_nl,
       {", ".join(f"f.{m}" for m in MEASURES)},
       c.geom
  FROM stats.published_months p
 CROSS JOIN public.communes c
 CROSS JOIN LATERAL (
        SELECT {", ".join(_FIGURE.format(m=m) for m in MEASURES)}
          FROM stats.published_cells v
         WHERE v.month = p.month AND v.commune_level = 'commune' AND v.commune = c.nis_code
           AND v.material_level = 'all'
       ) f
"""

# What 0018 made, for the downgrade.
OGC_COMMUNES_BEFORE = f"""
CREATE OR REPLACE VIEW ogc.communes AS
SELECT c.nis_code || '-' || to_char(p.month, 'YYYY-MM') AS id, c.nis_code,
       to_char(p.month, 'YYYY-MM') AS month, c.name, c.name_fr, c.name_nl,
       {", ".join(_FIGURE.format(m=m) for m in MEASURES)},
       c.geom
  FROM stats.published_months p
 CROSS JOIN public.communes c
  LEFT JOIN stats.published_cells v
         ON v.month = p.month AND v.commune_level = 'commune' AND v.commune = c.nis_code
        AND v.material_level = 'all'
 GROUP BY p.month, c.nis_code
"""

FLOW_FACTS_BEFORE = (
    FLOW_FACTS.replace("o.commune::varchar AS commune", "stats.commune_of(o.location) AS commune")
    .replace("r.commune::varchar", "stats.commune_of(r.location)")
    .replace("o.commune::varchar", "stats.commune_of(o.location)")
    .replace("s.commune::varchar", "stats.commune_of(s.location)")
)


def upgrade() -> None:
    for table in PLACES:
        # A NIS code, or null outside the communes; no foreign key: the communes are
        # loaded again by an upsert, and the places follow them by the triggers below.
        op.add_column(table, sa.Column("commune", sa.String(5)))
        op.execute(f"UPDATE {table} SET commune = stats.commune_of(location)")
    for statement in (PLACE_COMMUNE, PLACES_AGAIN, COMMUNES_CHANGED):
        op.execute(statement)
    for table in PLACES:
        op.execute(
            f"CREATE TRIGGER {table}_commune BEFORE INSERT OR UPDATE OF location, commune "
            f"ON {table} FOR EACH ROW EXECUTE FUNCTION stats.place_commune()"
        )
    for name, event, transition in COMMUNES_TRIGGERS:
        op.execute(
            f"CREATE TRIGGER {name} AFTER {event} ON communes {transition} "
            "FOR EACH STATEMENT EXECUTE FUNCTION stats.communes_changed()"
        )
    op.execute(FLOW_FACTS)
    for name, table, expression, rows in DAYS:
        where = f" WHERE {rows}" if rows else ""
        op.execute(f"CREATE INDEX {name} ON {table} (({expression})){where}")
    for name, table, rows in OPEN_PLACES:
        op.execute(f"CREATE INDEX {name} ON {table} USING gist (location) WHERE {rows}")
    op.execute(OGC_COMMUNES)


def downgrade() -> None:
    op.execute(OGC_COMMUNES_BEFORE)
    for name, *_ in (*OPEN_PLACES, *DAYS):
        op.execute(f"DROP INDEX {name}")
    op.execute(FLOW_FACTS_BEFORE)
    for name, *_ in COMMUNES_TRIGGERS:
        op.execute(f"DROP TRIGGER {name} ON communes")
    for table in PLACES:
        op.execute(f"DROP TRIGGER {table}_commune ON {table}")
    for function in ("communes_changed()", "place_again()", "place_commune()"):
        op.execute(f"DROP FUNCTION stats.{function}")
    for table in PLACES:
        op.drop_column(table, "commune")
