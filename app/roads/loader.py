"""Loads the Brussels road network from `shared/data/osm/` into the `roads` schema with
osmium-tool and osm2pgrouting, then builds the bike and van networks of `app.roads.networks`
and publishes the ways for the open data's base map."""

import asyncio
import os
import subprocess
import tempfile
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.roads.networks import PROFILES, known_network

OSM_FILE = Path("data/osm/brussels_capital_region_2013-01-01.osm.pbf")
MAPCONFIG = Path("/usr/share/osm2pgrouting/mapconfig.xml")


def import_osm(database_url: str, shared_dir: Path) -> None:
    """osmium keeps the ways tagged highway; osm2pgrouting builds roads.ways and its vertices."""
    url = make_url(database_url)
    with tempfile.TemporaryDirectory() as folder:
        highways = Path(folder) / "highways.osm"
        subprocess.run(
            [
                "osmium",
                "tags-filter",
                str(shared_dir / OSM_FILE),
                "w/highway",
                "-o",
                str(highways),
                "-f",
                "osm",
                "--overwrite",
            ],
            check=True,
        )
        # osm2pgrouting hands libpq an empty password when given none, which hides
        # PGPASSWORD; a password file is still read, and keeps it off the command line. A URL
        # with no password leaves libpq the caller's own PGPASSFILE (`make run`'s).
        env = dict(os.environ)
        if url.password is not None:
            passfile = Path(folder) / "pgpass"
            secret = url.password.replace("\\", "\\\\").replace(":", "\\:")
            passfile.touch(mode=0o600)
            passfile.write_text(f"*:*:*:*:{secret}\n")
            env["PGPASSFILE"] = str(passfile)
        subprocess.run(
            [
                "osm2pgrouting",
                "--f",
                str(highways),
                "--conf",
                str(MAPCONFIG),
                "--dbname",
                str(url.database),
                "--host",
                str(url.host),
                "--port",
                str(url.port or 5432),
                "--username",
                str(url.username),
                "--schema",
                "roads",
                "--clean",
            ],
            check=True,
            env=env,
            stdout=subprocess.DEVNULL,
        )


# The open data's base map (app.ogc): every way with its OSM class and name.
PUBLIC_ROADS_VIEW = """
CREATE OR REPLACE VIEW ogc.roads AS
SELECT w.gid AS id, c.tag_value AS class, w.name, w.the_geom::geometry(LineString, 4326) AS geom
  FROM roads.ways w
  LEFT JOIN roads.configuration c ON c.tag_id = w.tag_id
"""


async def load_road_network(
    engine: AsyncEngine, database_url: str, shared_dir: Path, force: bool
) -> dict[str, int] | None:
    """Imports the network and builds its profiles, unless they are there and not `force`d
    (then publishes them only); answers the edges of each profile built."""
    async with engine.begin() as connection:
        loaded = await connection.scalar(text("SELECT to_regclass('roads.edges_bike') IS NOT NULL"))
        if loaded and not force:
            await connection.execute(text(PUBLIC_ROADS_VIEW))
            return None
        # Committed before the import: osm2pgrouting drops the tables this view reads, from a
        # connection of its own, which would otherwise wait on this one.
        await connection.execute(text("DROP VIEW IF EXISTS ogc.roads"))
    await asyncio.to_thread(import_osm, database_url, shared_dir)
    async with engine.begin() as connection:
        counts = await _build_profiles(connection)
        await connection.execute(text(PUBLIC_ROADS_VIEW))
    return counts


async def _build_profiles(connection: AsyncConnection) -> dict[str, int]:
    counts = {}
    for profile in PROFILES:
        for statement in build_profile_sql(profile):
            await connection.execute(text(statement))
        counts[profile] = int(
            await connection.scalar(text(f"SELECT count(*) FROM roads.edges_{profile}")) or 0
        )
    return counts


def build_profile_sql(profile: str) -> list[str]:
    """The statements that build one profile's network, in order."""
    forbidden = ", ".join(str(t) for t in PROFILES[known_network(profile)])
    return [
        f"DROP TABLE IF EXISTS roads.edges_{profile}, roads.vertices_{profile}",
        f"""CREATE TABLE roads.edges_{profile} AS
            SELECT gid AS id, source, target,
                   CASE WHEN cost < 0 THEN -1 ELSE length_m END AS cost,
                   CASE WHEN reverse_cost < 0 THEN -1 ELSE length_m END AS reverse_cost,
                   the_geom
              FROM roads.ways
             WHERE tag_id NOT IN ({forbidden})""",
        # Directed reachability: the largest strongly connected part.
        f"""CREATE TABLE roads.vertices_{profile} AS
            WITH parts AS (
                SELECT * FROM pgr_strongComponents(
                    'SELECT id, source, target, cost, reverse_cost FROM roads.edges_{profile}')
            ), biggest AS (
                SELECT component FROM parts GROUP BY component ORDER BY count(*) DESC LIMIT 1
            )
            SELECT v.id, v.the_geom
              FROM roads.ways_vertices_pgr v JOIN parts p ON p.node = v.id JOIN biggest b USING (component)""",
        f"""DELETE FROM roads.edges_{profile} e
             WHERE NOT EXISTS (SELECT 1 FROM roads.vertices_{profile} v WHERE v.id = e.source)
                OR NOT EXISTS (SELECT 1 FROM roads.vertices_{profile} v WHERE v.id = e.target)""",
        f"CREATE INDEX ON roads.vertices_{profile} USING gist (the_geom)",
        f"CREATE INDEX ON roads.edges_{profile} (id)",
        f"ANALYZE roads.edges_{profile}",
        f"ANALYZE roads.vertices_{profile}",
    ]
