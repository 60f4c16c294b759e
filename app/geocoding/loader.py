"""Loads the geocoder's streets and house numbers (schema `geocoding`, migration 0028) from the
OSM extract, for the 19 communes of `public.communes` (the reference data, loaded first).

Run again, it makes the same rows: the tables are emptied and filled in one transaction, with
ids numbered in a fixed order. It takes some 5 s (the extract read by osmium-tool, then SQL).

Postcodes. An address keeps its own `addr:postcode`. A street takes the postcode of the OSM
area it lies in: the communes' relations carry `addr:postcode` in the 2013 extract (18 of them
one postcode each, the City of Brussels five: 1000;1020;1040;1120;1130) and any
`boundary=postal_code` area would count the same; where an area has several, the street takes
the postcode most of the tagged addresses within 250 m of it have among them, else the first.
A street in no such area takes its commune's main postcode (`COMMUNE_POSTCODES`)."""

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path

import asyncpg
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.geocoding.osm_extract import Extract, read_extract

# The main postcode of each commune by NIS code, from bpost's list of Belgian postcodes (the
# City of Brussels' 1000; its sections Laeken 1020, Neder-Over-Heembeek 1120 and Haren 1130,
# and its parts in 1040 and 1050, come from the OSM areas and addresses instead).
COMMUNE_POSTCODES = {
    "21001": "1070",  # Anderlecht
    "21002": "1160",  # Auderghem / Oudergem
    "21003": "1082",  # Berchem-Sainte-Agathe / Sint-Agatha-Berchem
    "21004": "1000",  # Bruxelles / Brussel
    "21005": "1040",  # Etterbeek
    "21006": "1140",  # Evere
    "21007": "1190",  # Forest / Vorst
    "21008": "1083",  # Ganshoren
    "21009": "1050",  # Ixelles / Elsene
    "21010": "1090",  # Jette
    "21011": "1081",  # Koekelberg
    "21012": "1080",  # Molenbeek-Saint-Jean / Sint-Jans-Molenbeek
    "21013": "1060",  # Saint-Gilles / Sint-Gillis
    "21014": "1210",  # Saint-Josse-ten-Noode / Sint-Joost-ten-Node
    "21015": "1030",  # Schaerbeek / Schaarbeek
    "21016": "1180",  # Uccle / Ukkel
    "21017": "1170",  # Watermael-Boitsfort / Watermaal-Bosvoorde
    "21018": "1200",  # Woluwe-Saint-Lambert / Sint-Lambrechts-Woluwe
    "21019": "1150",  # Woluwe-Saint-Pierre / Sint-Pieters-Woluwe
}


@dataclass(frozen=True)
class LoadReport:
    streets: int
    street_names: int
    addresses: int
    # The OSM features with a house number placed on a street of the communes; `addresses`
    # counts their doors ("63-67" is three).
    house_numbers: int
    without_street: int
    unmatched_street: int
    # The doors whose postcode is their own tag's; the others have their street's.
    postcode_tagged: int
    seconds: float


async def load_addresses(engine: AsyncEngine, shared_dir: Path) -> LoadReport:
    started = time.monotonic()
    extract = await asyncio.to_thread(read_extract, shared_dir)
    async with engine.begin() as connection:
        await _stage(connection, extract)
        for statement in BUILD:
            await connection.execute(text(statement))
        figures = (await connection.execute(text(FIGURES))).one()
        for table in ("streets", "street_names", "addresses", "postcodes"):
            await connection.execute(text(f"ANALYZE geocoding.{table}"))
    return LoadReport(
        streets=figures.streets,
        street_names=figures.street_names,
        addresses=figures.addresses,
        house_numbers=figures.house_numbers,
        without_street=extract.without_street,
        unmatched_street=figures.unmatched_street,
        postcode_tagged=figures.postcode_tagged,
        seconds=time.monotonic() - started,
    )


async def _stage(connection: AsyncConnection, extract: Extract) -> None:
    """The extract's rows in temporary tables, by COPY."""
    for statement in STAGING:
        await connection.execute(text(statement))
    raw: asyncpg.Connection = (await connection.get_raw_connection()).driver_connection
    staged: dict[str, tuple[list[str], list[tuple[object, ...]]]] = {
        "osm_ways": (
            ["osm_id", "name", "name_fr", "name_nl", "plain", "geojson"],
            [(w.osm_id, w.name, w.name_fr, w.name_nl, w.plain, w.geojson) for w in extract.ways],
        ),
        "osm_addresses": (
            ["osm_type", "osm_id", "housenumber", "number_key", "street", "postcode", "geojson"],
            [
                (a.osm_type, a.osm_id, a.housenumber, a.number_key, a.street, a.postcode, a.geojson)
                for a in extract.addresses
            ],
        ),
        "osm_postal_areas": (
            ["osm_id", "postcodes", "geojson"],
            [(a.osm_id, a.postcodes, a.geojson) for a in extract.areas],
        ),
        "commune_postcodes": (["nis_code", "postcode"], list(COMMUNE_POSTCODES.items())),
    }
    for table, (columns, records) in staged.items():
        await raw.copy_records_to_table(table, records=records, columns=columns)


STAGING = [
    """CREATE TEMPORARY TABLE osm_ways (osm_id bigint, name text, name_fr text, name_nl text,
                                        plain text, geojson text) ON COMMIT DROP""",
    """CREATE TEMPORARY TABLE osm_addresses (osm_type text, osm_id bigint, housenumber text,
                                             number_key text, street text, postcode text,
                                             geojson text) ON COMMIT DROP""",
    """CREATE TEMPORARY TABLE osm_postal_areas (osm_id bigint, postcodes text, geojson text)
       ON COMMIT DROP""",
    "CREATE TEMPORARY TABLE commune_postcodes (nis_code text, postcode text) ON COMMIT DROP",
]

# What a postcode looks like in a tag: "1000", "B-1000", "1180 Bruxelles".
_POSTCODE_OF_TAG = "substring({} from '(?:^|\\D)(1\\d{{3}})(?:\\D|$)')"

BUILD = [
    "ALTER TABLE osm_addresses ADD COLUMN tagged_postcode text",
    f"UPDATE osm_addresses SET tagged_postcode = {_POSTCODE_OF_TAG.format('postcode')}",
    # The ways of the communes, each placed by its middle.
    """CREATE TEMPORARY TABLE ways ON COMMIT DROP AS
        SELECT w.osm_id, w.name, w.name_fr, w.name_nl, w.plain, g.geom, c.nis_code AS commune
          FROM osm_ways w
         CROSS JOIN LATERAL (SELECT ST_SetSRID(ST_GeomFromGeoJSON(w.geojson), 4326) AS geom) g
          JOIN public.communes c ON ST_Covers(c.geom, ST_LineInterpolatePoint(g.geom, 0.5))""",
    """CREATE TEMPORARY TABLE tagged ON COMMIT DROP AS
        SELECT tagged_postcode AS postcode,
               ST_PointOnSurface(ST_SetSRID(ST_GeomFromGeoJSON(geojson), 4326)) AS geom
          FROM osm_addresses WHERE tagged_postcode IS NOT NULL""",
    "CREATE INDEX ON tagged USING gist (geom)",
    """CREATE TEMPORARY TABLE areas ON COMMIT DROP AS
       SELECT osm_id, string_to_array(replace(postcodes, ' ', ''), ';') AS postcodes,
              ST_SetSRID(ST_GeomFromGeoJSON(geojson), 4326) AS geom
         FROM osm_postal_areas""",
    # Each way's postcode: its area's only one; among an area's several, the one most tagged
    # addresses near the way have; else the area's first; else its commune's. 0.0036 degrees
    # hold 250 m either way at Brussels' latitude: the planar test lets the index narrow.
    """ALTER TABLE ways ADD COLUMN postcode text""",
    """UPDATE ways w SET postcode = coalesce(
           (SELECT CASE WHEN cardinality(a.postcodes) = 1 THEN a.postcodes[1]
                        ELSE coalesce(
                            (SELECT t.postcode FROM tagged t
                              WHERE ST_DWithin(t.geom, w.geom, 0.0036)
                                AND ST_DWithin(t.geom::geography, w.geom::geography, 250)
                                AND t.postcode = ANY (a.postcodes)
                              GROUP BY t.postcode ORDER BY count(*) DESC, t.postcode LIMIT 1),
                            a.postcodes[1]) END
              FROM areas a
             WHERE ST_Covers(a.geom, ST_LineInterpolatePoint(w.geom, 0.5))
             ORDER BY ST_Area(a.geom) LIMIT 1),
           (SELECT p.postcode FROM commune_postcodes p WHERE p.nis_code = w.commune))""",
    # DELETE rather than TRUNCATE: the API goes on reading the rows as they were while they
    # are made anew, instead of waiting for the lock.
    "DELETE FROM geocoding.streets",  # their names and addresses with them (ON DELETE CASCADE)
    "DELETE FROM geocoding.postcodes",
    # A street: the ways of one name (as its two languages, or its one name) in one postcode of
    # one commune, merged; its point is the point of the street nearest its middle.
    """INSERT INTO geocoding.streets (id, name, name_fr, name_nl, postcode, commune, geom, point)
       SELECT row_number() OVER (ORDER BY name_fr, name_nl, plain, postcode, commune),
              name, name_fr, name_nl, postcode, commune, geom,
              ST_ClosestPoint(geom, ST_Centroid(geom))
         FROM (SELECT mode() WITHIN GROUP (ORDER BY name) AS name, name_fr, name_nl, plain, postcode,
                      commune, ST_Multi(ST_LineMerge(ST_Collect(geom))) AS geom
                 FROM ways
                GROUP BY name_fr, name_nl, plain, postcode, commune) streets""",
    # Each spelling once per street; one spelling in both languages has none.
    """INSERT INTO geocoding.street_names (street_id, name, language)
       SELECT id, spelling, CASE WHEN count(*) = 1 THEN min(language) END
         FROM (SELECT id, name_fr AS spelling, 'fr' AS language FROM geocoding.streets
                WHERE name_fr IS NOT NULL
               UNION ALL
               SELECT id, name_nl, 'nl' FROM geocoding.streets WHERE name_nl IS NOT NULL
               UNION ALL
               SELECT id, name, NULL FROM geocoding.streets
                WHERE name_fr IS NULL AND name_nl IS NULL) spellings
        GROUP BY id, spelling""",
    # An address is on the nearest street within 500 m whose name (either language, or the
    # bilingual whole) is its addr:street.
    """CREATE TEMPORARY TABLE street_keys ON COMMIT DROP AS
       SELECT DISTINCT s.id, geocoding.normalised(spelling) AS key, s.postcode, s.geom
         FROM geocoding.streets s, unnest(ARRAY[s.name, s.name_fr, s.name_nl]) spelling
        WHERE spelling IS NOT NULL""",
    "CREATE INDEX ON street_keys (key)",
    """INSERT INTO geocoding.addresses
           (id, street_id, housenumber, number_key, postcode, osm_type, osm_id, geom)
       SELECT row_number() OVER (ORDER BY a.osm_type, a.osm_id, a.number_key),
              s.id, a.housenumber, a.number_key, coalesce(a.tagged_postcode, s.postcode),
              a.osm_type, a.osm_id, a.geom
         FROM (SELECT osm_type, osm_id, housenumber, number_key, tagged_postcode,
                      geocoding.normalised(street) AS street,
                      ST_PointOnSurface(ST_SetSRID(ST_GeomFromGeoJSON(geojson), 4326)) AS geom
                 FROM osm_addresses) a
         CROSS JOIN LATERAL (
               SELECT k.id, k.postcode FROM street_keys k
                WHERE k.key = a.street AND ST_DWithin(k.geom::geography, a.geom::geography, 500)
                ORDER BY k.geom <-> a.geom, k.id LIMIT 1) s""",
    # A postcode's point: the street point nearest the middle of its streets' points.
    """INSERT INTO geocoding.postcodes (postcode, commune, point)
       SELECT postcode, mode() WITHIN GROUP (ORDER BY commune),
              ST_ClosestPoint(ST_Collect(point), ST_Centroid(ST_Collect(point)))
         FROM geocoding.streets WHERE postcode IS NOT NULL GROUP BY postcode""",
]

FIGURES = """
SELECT (SELECT count(*) FROM geocoding.streets) AS streets,
       (SELECT count(*) FROM geocoding.street_names) AS street_names,
       (SELECT count(*) FROM geocoding.addresses) AS addresses,
       (SELECT count(DISTINCT (osm_type, osm_id)) FROM geocoding.addresses) AS house_numbers,
       (SELECT count(DISTINCT (osm_type, osm_id)) FROM osm_addresses)
         - (SELECT count(DISTINCT (osm_type, osm_id)) FROM geocoding.addresses) AS unmatched_street,
       (SELECT count(*) FROM geocoding.addresses a
          JOIN osm_addresses o USING (osm_type, osm_id, number_key)
         WHERE o.tagged_postcode IS NOT NULL) AS postcode_tagged
"""
