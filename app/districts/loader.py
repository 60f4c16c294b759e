"""Derives the shopping districts from the Brussels OSM extract in `shared/data/osm/`:
osmium-tool extracts the shopfronts and the named streets, PostGIS clusters the shopfronts
(DBSCAN in Belgian Lambert 2008 metres), draws a polygon around each cluster and names it after
the street most of its shopfronts lie on. Loading again gives the same rows: a district keeps
its slug and its id, and a row that would not change is not written."""

import json
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.districts.slugs import unique_slugs

OSM_FILE = Path("data/osm/brussels_capital_region_2013-01-01.osm.pbf")

# A shopfront is a shop, or a place of the high street that is not tagged `shop` in OSM: the
# 2013 extract has only ~800 `shop=*` features in the Region, and none within 150 m of the
# middle of Place Dumon or of Place du Jeu de Balle, whose cafés, restaurants, pharmacies,
# banks and markets it does have.
SHOPFRONT_AMENITIES = (
    "bank",
    "bar",
    "bureau_de_change",
    "cafe",
    "fast_food",
    "ice_cream",
    "marketplace",
    "pharmacy",
    "post_office",
    "pub",
    "restaurant",
)
# Streets a shopfront can face; a footway or a service road is not the street a district is
# known by.
NOT_A_SHOPPING_STREET = (
    "bridleway",
    "construction",
    "cycleway",
    "footway",
    "motorway",
    "motorway_link",
    "path",
    "platform",
    "proposed",
    "service",
    "steps",
    "track",
)

# DBSCAN's parameters, measured on the 2013 extract (some 1 990 shopfronts in the 19 communes)
# against the demo's twelve shopping streets (`brussels_demo_sites.csv`), each street's point
# counted as in a district when within 150 m of one:
#   eps 80 m,  3 points: 136 districts, 10 streets in 10 districts (Place Dumon 1.3 km off)
#   eps 100 m, 3 points: 145 districts, 11 streets in 11 districts, the largest 165
#                        shopfronts and 0.51 km² (Grand-Place and Bourse, not the Pentagon)
#   eps 120 m, 3 points: 137 districts, 11 in 11, the largest 0.64 km² (clusters merge)
#   eps 100 m, 4 points:  91 districts, 8 in 8 (Marie-Christine, Dumon, Jeu de Balle lost)
# Rue Vanderkindere is in none: its point is the middle of a 3.2 km street, and the extract
# has four shopfronts within 400 m of it.
CLUSTER_EPS_M = 100
CLUSTER_MIN_SHOPFRONTS = 3
# Half of eps around the hull: the outline reaches a shopfront's own pavement, and two
# districts' outlines seldom meet (one pair of the 145 overlaps).
OUTLINE_BUFFER_M = CLUSTER_EPS_M / 2
# How far a shop's `addr:street` is looked for among the streets' names, and how far the
# nearest street is taken for a shopfront without one.
ADDRESS_STREET_M = 200
NEAREST_STREET_M = 100
# A district is named after the street most of its shopfronts face: the street their address
# names, counted twice (what a shop says of itself, where the nearest street is a guess), else
# their nearest street. A tie goes to the street more of them name in their address, then to
# the one most of them lie within this reach of: in 2013 the nine shopfronts of Rue Neuve's
# district face Boulevard Adolphe Max (two, by nearness) as often as Rue Neuve (one, by its
# address), and six of them lie along each.
SHOPPING_STREET_REACH_M = 60
LAMBERT_2008 = 3812


@dataclass(frozen=True)
class DistrictsLoaded:
    districts: int
    shopfronts: int
    shops: int
    written: int
    removed: int
    seconds: float


def _osmium(*arguments: str) -> None:
    subprocess.run(["osmium", *arguments, "--overwrite", "--no-progress"], check=True)


def extract_osm(shared_dir: Path, folder: Path) -> tuple[Path, Path]:
    """The shopfronts and the named streets of the extract, as GeoJSON text sequences."""
    source = str(shared_dir / OSM_FILE)
    shopfronts, streets = folder / "shopfronts.osm.pbf", folder / "streets.osm.pbf"
    highways, named = folder / "highways.osm.pbf", folder / "named.osm.pbf"
    amenities = "nw/amenity=" + ",".join(SHOPFRONT_AMENITIES)
    _osmium("tags-filter", source, "nw/shop", amenities, "-o", str(shopfronts))
    _osmium("tags-filter", source, "w/highway", "-o", str(highways))
    _osmium("tags-filter", str(highways), "w/name", "-o", str(named))
    footpaths = "w/highway=" + ",".join(NOT_A_SHOPPING_STREET)
    _osmium("tags-filter", str(named), "--invert-match", footpaths, "-o", str(streets))
    exported = []
    for extract in (shopfronts, streets):
        output = extract.with_suffix(".geojsonseq")
        _osmium("export", str(extract), "-f", "geojsonseq", "-a", "type,id", "-o", str(output))
        exported.append(output)
    return exported[0], exported[1]


def _features(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            # Each feature of a GeoJSON text sequence (RFC 8142) starts with a record separator.
            line = line.strip("\x1e\n ")
            if line:
                yield json.loads(line)


def shopfront_rows(path: Path) -> list[dict[str, Any]]:
    """One row per OSM object (osmium may export a closed way both as a line and an area)."""
    rows: dict[str, dict[str, Any]] = {}
    for feature in _features(path):
        tags = feature["properties"]
        is_shop = "shop" in tags
        if not is_shop and tags.get("amenity") not in SHOPFRONT_AMENITIES:
            continue  # a node of a shop's way, kept by tags-filter for the way's sake
        reference = f"{tags['@type'][0]}{tags['@id']}"
        rows.setdefault(
            reference,
            {
                "osm_ref": reference,
                "is_shop": is_shop,
                "addr_street": tags.get("addr:street"),
                "geometry": json.dumps(feature["geometry"]),
            },
        )
    return list(rows.values())


def street_rows(path: Path) -> list[dict[str, Any]]:
    return [
        {
            "name": feature["properties"]["name"],
            "name_fr": feature["properties"].get("name:fr"),
            "name_nl": feature["properties"].get("name:nl"),
            "geometry": json.dumps(feature["geometry"]),
        }
        for feature in _features(path)
        if feature["geometry"]["type"] != "Point"
    ]


_STAGING = [
    f"""CREATE TEMP TABLE district_shopfronts (
            osm_ref text PRIMARY KEY, is_shop boolean NOT NULL, addr_street text,
            geom geometry(Point, {LAMBERT_2008}) NOT NULL) ON COMMIT DROP""",
    f"""CREATE TEMP TABLE district_streets (
            name text NOT NULL, name_fr text, name_nl text,
            geom geometry(Geometry, {LAMBERT_2008}) NOT NULL) ON COMMIT DROP""",
]
_STAGE_SHOPFRONT = text(
    f"""INSERT INTO district_shopfronts VALUES (:osm_ref, :is_shop, :addr_street,
        ST_Transform(ST_PointOnSurface(ST_SetSRID(ST_GeomFromGeoJSON(:geometry), 4326)),
                     {LAMBERT_2008}))"""
)
_STAGE_STREET = text(
    f"""INSERT INTO district_streets VALUES (:name, :name_fr, :name_nl,
        ST_Transform(ST_SetSRID(ST_GeomFromGeoJSON(:geometry), 4326), {LAMBERT_2008}))"""
)

# The shopfronts in the Region, each with its commune, its cluster (null: in none), the street
# its address names and its nearest street. DBSCAN reads them in the
# order of their OSM ids, so that a shopfront within reach of two clusters joins the same one
# at every load.
_CLUSTERED = [
    "CREATE INDEX ON district_streets USING gist (geom)",
    "ANALYZE district_streets",
    f"""CREATE TEMP TABLE district_members ON COMMIT DROP AS
        WITH placed AS (
            SELECT s.*, c.nis_code AS commune
              FROM district_shopfronts s
              JOIN communes c ON ST_Within(ST_Transform(s.geom, 4326), c.geom)
        )
        SELECT p.*,
               ST_ClusterDBSCAN(p.geom, eps := {CLUSTER_EPS_M},
                                minpoints := {CLUSTER_MIN_SHOPFRONTS})
                   OVER (ORDER BY p.osm_ref) AS cluster,
               (SELECT st.name FROM district_streets st
                 WHERE p.addr_street IS NOT NULL
                   AND ST_DWithin(st.geom, p.geom, {ADDRESS_STREET_M})
                   AND lower(p.addr_street) IN
                       (lower(st.name), lower(st.name_fr), lower(st.name_nl))
                 ORDER BY st.geom <-> p.geom, st.name LIMIT 1) AS addressed_street,
               (SELECT st.name FROM district_streets st
                 WHERE ST_DWithin(st.geom, p.geom, {NEAREST_STREET_M})
                 ORDER BY st.geom <-> p.geom, st.name LIMIT 1) AS nearest_street
          FROM placed p""",
    f"""CREATE TEMP TABLE district_outlines ON COMMIT DROP AS
        WITH clusters AS (
            SELECT cluster, count(*) AS shopfronts, count(*) FILTER (WHERE is_shop) AS shops,
                   ST_Buffer(ST_ConcaveHull(ST_Collect(geom), 0.5), {OUTLINE_BUFFER_M}) AS outline
              FROM district_members WHERE cluster IS NOT NULL GROUP BY cluster
        ), lying_on AS (
            SELECT m.cluster, st.name AS street, m.osm_ref, m.addressed_street, m.nearest_street
              FROM district_members m
              JOIN district_streets st ON ST_DWithin(st.geom, m.geom, {SHOPPING_STREET_REACH_M})
             WHERE m.cluster IS NOT NULL
             UNION
            SELECT cluster, coalesce(addressed_street, nearest_street), osm_ref,
                   addressed_street, nearest_street
              FROM district_members
             WHERE cluster IS NOT NULL AND coalesce(addressed_street, nearest_street) IS NOT NULL
        ), streets AS (
            SELECT DISTINCT ON (cluster) cluster, street
              FROM lying_on
             GROUP BY cluster, street
             ORDER BY cluster,
                      count(*) FILTER (WHERE coalesce(addressed_street, nearest_street) = street)
                      + count(*) FILTER (WHERE addressed_street = street) DESC,
                      count(*) FILTER (WHERE addressed_street = street) DESC,
                      count(*) DESC, street
        ), majority AS (
            SELECT DISTINCT ON (cluster) cluster, commune
              FROM district_members WHERE cluster IS NOT NULL
             GROUP BY cluster, commune ORDER BY cluster, count(*) DESC, commune
        )
        SELECT c.cluster, c.shopfronts, c.shops, m.commune,
               coalesce(s.street,
                        (SELECT st.name FROM district_streets st
                          ORDER BY st.geom <-> ST_Centroid(c.outline), st.name LIMIT 1)) AS name,
               ST_Multi(ST_Transform(c.outline, 4326)) AS geom,
               ST_X(ST_Transform(ST_Centroid(c.outline), 4326)) AS lon,
               ST_Y(ST_Transform(ST_Centroid(c.outline), 4326)) AS lat
          FROM clusters c JOIN majority m USING (cluster) LEFT JOIN streets s USING (cluster)""",
    "ALTER TABLE district_outlines ADD COLUMN slug text, ADD COLUMN name_fr text, "
    "ADD COLUMN name_nl text",
]

# The street's names in each language, as most of its ways give them.
_NAMED = """
SELECT o.cluster, o.name, o.shopfronts, o.lon, o.lat,
       (SELECT st.name_fr FROM district_streets st WHERE st.name = o.name AND st.name_fr IS NOT NULL
         GROUP BY st.name_fr ORDER BY count(*) DESC, st.name_fr LIMIT 1) AS name_fr,
       (SELECT st.name_nl FROM district_streets st WHERE st.name = o.name AND st.name_nl IS NOT NULL
         GROUP BY st.name_nl ORDER BY count(*) DESC, st.name_nl LIMIT 1) AS name_nl
  FROM district_outlines o
"""

_SLUGGED = text(
    "UPDATE district_outlines SET slug = :slug, name_fr = :name_fr, name_nl = :name_nl "
    "WHERE cluster = :cluster"
)

_UPSERT = text(
    """
    INSERT INTO districts AS d
           (slug, name, name_fr, name_nl, commune, geom, shop_count, shopfront_count, area_m2,
            source)
    SELECT o.slug, o.name, o.name_fr, o.name_nl, o.commune, o.geom, o.shops, o.shopfronts,
           round(ST_Area(o.geom::geography)::numeric, 1), 'osm'
      FROM district_outlines o
    ON CONFLICT (slug) DO UPDATE
       SET name = excluded.name, name_fr = excluded.name_fr, name_nl = excluded.name_nl,
           commune = excluded.commune, geom = excluded.geom, shop_count = excluded.shop_count,
           shopfront_count = excluded.shopfront_count, area_m2 = excluded.area_m2,
           source = excluded.source
     WHERE (d.name, d.name_fr, d.name_nl, d.commune, d.shop_count, d.shopfront_count,
            d.area_m2, d.source)
           IS DISTINCT FROM
           (excluded.name, excluded.name_fr, excluded.name_nl, excluded.commune,
            excluded.shop_count, excluded.shopfront_count, excluded.area_m2, excluded.source)
        OR NOT ST_Equals(d.geom, excluded.geom)
    """
)
_REMOVE_GONE = text(
    "DELETE FROM districts WHERE source = 'osm' AND slug NOT IN "
    "(SELECT slug FROM district_outlines)"
)


async def _stage(connection: AsyncConnection, shopfronts: Path, streets: Path) -> None:
    for statement in _STAGING:
        await connection.execute(text(statement))
    await connection.execute(_STAGE_SHOPFRONT, shopfront_rows(shopfronts))
    await connection.execute(_STAGE_STREET, street_rows(streets))


async def derive_districts(connection: AsyncConnection) -> tuple[int, int]:
    """Clusters the staged shopfronts and writes the districts; answers the rows written
    (new or changed) and removed."""
    for statement in _CLUSTERED:
        await connection.execute(text(statement))
    named = (await connection.execute(text(_NAMED))).mappings().all()
    # The largest district of a name takes the plain slug; the others are numbered from west
    # to east, so that the same extract gives the same slugs.
    ordered = sorted(named, key=lambda row: (-row["shopfronts"], row["lon"], row["lat"]))
    slugs = unique_slugs([row["name"] for row in ordered])
    await connection.execute(
        _SLUGGED,
        [
            {"slug": slug, **{k: row[k] for k in ("cluster", "name_fr", "name_nl")}}
            for slug, row in zip(slugs, ordered, strict=True)
        ],
    )
    written = (await connection.execute(_UPSERT)).rowcount
    removed = (await connection.execute(_REMOVE_GONE)).rowcount
    await connection.execute(text("ANALYZE districts"))
    return written, removed


async def load_districts(engine: AsyncEngine, shared_dir: Path) -> DistrictsLoaded:
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as folder:
        shopfronts, streets = extract_osm(shared_dir, Path(folder))
        async with engine.begin() as connection:
            await _stage(connection, shopfronts, streets)
            written, removed = await derive_districts(connection)
            counts = (
                await connection.execute(
                    text(
                        "SELECT count(*) AS districts, "
                        "coalesce(sum(shopfront_count), 0) AS shopfronts, "
                        "coalesce(sum(shop_count), 0) AS shops FROM districts"
                    )
                )
            ).one()
    return DistrictsLoaded(
        districts=counts.districts,
        shopfronts=counts.shopfronts,
        shops=counts.shops,
        written=written,
        removed=removed,
        seconds=round(time.monotonic() - started, 1),
    )
