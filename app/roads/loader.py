"""Loads the Brussels road network from `shared/data/osm/` into the `roads` schema with
osmium-tool and osm2pgrouting, then builds the bike and van networks of `app.route_plans.roads`
and publishes the ways for the open data's base map."""

import os
import subprocess
import tempfile
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

from app.route_plans.roads import PROFILES, build_profile_sql

OSM_FILE = Path("data/osm/brussels_capital_region_2013-01-01.osm.pbf")
MAPCONFIG = Path("/usr/share/osm2pgrouting/mapconfig.xml")


async def roads_loaded(session: AsyncSession) -> bool:
    return bool(await session.scalar(text("SELECT to_regclass('roads.edges_bike') IS NOT NULL")))


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


async def unpublish_roads(session: AsyncSession) -> None:
    """Before an import: osm2pgrouting drops the tables the view reads."""
    await session.execute(text("DROP VIEW IF EXISTS ogc.roads"))
    await session.commit()


async def publish_roads(session: AsyncSession) -> None:
    await session.execute(text(PUBLIC_ROADS_VIEW))
    await session.commit()


async def build_profiles(session: AsyncSession) -> dict[str, int]:
    counts = {}
    for profile in PROFILES:
        for statement in build_profile_sql(profile):
            await session.execute(text(statement))
        counts[profile] = int(
            await session.scalar(text(f"SELECT count(*) FROM roads.edges_{profile}")) or 0
        )
    await session.commit()
    return counts
