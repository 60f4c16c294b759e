"""address geocoder: the streets and house numbers of the OSM extract, searchable by name

Schema `geocoding`, filled by `python -m app.cli addresses` (app/geocoding/loader.py):

- `streets`: one street of one postcode (its ways merged), with its French and Dutch names;
- `street_names`: each spelling of a street (French, Dutch, or the only name it has) with its
  normalised form (`geocoding.normalised`: unaccented, lower case, letters and digits), which
  a trigram index searches;
- `addresses`: the house numbers of nodes and buildings, each on a street of `streets`;
- `postcodes`: each postcode with its commune and a point on its streets.

pg_trgm and unaccent are trusted extensions (PostgreSQL 13 and later): the database's owner,
who runs this migration, may create them. The application's role reads these tables; only the
owner's loader writes them.

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-08
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0028"
down_revision: str | None = "0027"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APPLICATION = "boucle_app"

# unaccent() is STABLE (its dictionary could change), so an index cannot call it: this wrapper
# names the dictionary and the schemas itself and is declared IMMUTABLE, which holds as long as
# nobody edits unaccent's rules file. Hyphens, apostrophes and dots become spaces, so that
# "Saint-Josse" and "saint josse", "d'Ixelles" and "d ixelles" compare equal.
NORMALISED = """
CREATE FUNCTION geocoding.normalised(name text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT AS $$
    SELECT btrim(regexp_replace(
        lower(public.unaccent('public.unaccent'::regdictionary, name)), '[^a-z0-9]+', ' ', 'g'))
$$
"""


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public")
    op.execute("CREATE EXTENSION IF NOT EXISTS unaccent WITH SCHEMA public")
    op.execute("CREATE SCHEMA geocoding")
    op.execute(NORMALISED)
    op.execute(
        """
        CREATE TABLE geocoding.streets (
            id integer PRIMARY KEY,
            name text NOT NULL,
            name_fr text,
            name_nl text,
            postcode varchar(4),
            commune varchar(5) REFERENCES public.communes (nis_code),
            geom geometry(MultiLineString, 4326) NOT NULL,
            point geometry(Point, 4326) NOT NULL
        )
        """
    )
    op.execute("CREATE INDEX streets_geom_idx ON geocoding.streets USING gist (geom)")
    op.execute("CREATE INDEX streets_postcode_idx ON geocoding.streets (postcode)")
    op.execute(
        """
        CREATE TABLE geocoding.street_names (
            street_id integer NOT NULL REFERENCES geocoding.streets (id) ON DELETE CASCADE,
            name text NOT NULL,
            language varchar(2) CHECK (language IN ('fr', 'nl')),
            search text GENERATED ALWAYS AS (geocoding.normalised(name)) STORED,
            PRIMARY KEY (street_id, name)
        )
        """
    )
    op.execute(
        "CREATE INDEX street_names_search_trgm_idx ON geocoding.street_names "
        "USING gin (search public.gin_trgm_ops)"
    )
    op.execute(
        """
        CREATE TABLE geocoding.addresses (
            id integer PRIMARY KEY,
            street_id integer NOT NULL REFERENCES geocoding.streets (id) ON DELETE CASCADE,
            housenumber text NOT NULL,
            number_key text NOT NULL,
            postcode varchar(4),
            osm_type varchar(8) NOT NULL,
            osm_id bigint NOT NULL,
            geom geometry(Point, 4326) NOT NULL
        )
        """
    )
    op.execute(
        "CREATE INDEX addresses_street_number_idx ON geocoding.addresses (street_id, number_key)"
    )
    op.execute(
        """
        CREATE TABLE geocoding.postcodes (
            postcode varchar(4) PRIMARY KEY,
            commune varchar(5) REFERENCES public.communes (nis_code),
            point geometry(Point, 4326) NOT NULL
        )
        """
    )
    op.execute(f"GRANT USAGE ON SCHEMA geocoding TO {APPLICATION}")
    op.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA geocoding TO {APPLICATION}")


def downgrade() -> None:
    op.execute(f"REVOKE ALL ON ALL TABLES IN SCHEMA geocoding FROM {APPLICATION}")
    op.execute(f"REVOKE USAGE ON SCHEMA geocoding FROM {APPLICATION}")
    op.execute("DROP SCHEMA geocoding CASCADE")
    op.execute("DROP EXTENSION IF EXISTS unaccent")
    op.execute("DROP EXTENSION IF EXISTS pg_trgm")
