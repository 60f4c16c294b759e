"""Operator commands: `python -m app.cli openapi|reference|demo|roads|demo-day|admin-token`."""

import argparse
import asyncio
import json
import os
import secrets
import sys
from datetime import date, timedelta
from pathlib import Path

from app.db import create_engine, create_sessionmaker
from app.demo import demo_keys_by_id, load_demo
from app.demo_day import print_report, run_demo_day, write_geojson
from app.kit.local_time import brussels_today
from app.reference import load_reference_data
from app.roads import build_profiles, import_osm, publish_roads, roads_loaded, unpublish_roads
from app.settings import PROJECT_ROOT, get_settings

OPENAPI_FILE = PROJECT_ROOT / "openapi" / "openapi.json"


def openapi_document() -> str:
    from app.main import create_app

    return json.dumps(create_app().openapi(), indent=2, ensure_ascii=False) + "\n"


def export_openapi(check: bool) -> int:
    document = openapi_document()
    if check:
        if not OPENAPI_FILE.exists() or OPENAPI_FILE.read_text(encoding="utf-8") != document:
            print(
                f"{OPENAPI_FILE.relative_to(PROJECT_ROOT)} is out of date: run `make openapi`.",
                file=sys.stderr,
            )
            return 1
        print("openapi/openapi.json is up to date")
        return 0
    OPENAPI_FILE.parent.mkdir(exist_ok=True)
    OPENAPI_FILE.write_text(document, encoding="utf-8")
    print(f"wrote {OPENAPI_FILE.relative_to(PROJECT_ROOT)}")
    return 0


async def load(demo: bool, keys_file: Path | None) -> int:
    settings = get_settings()
    engine = create_engine(settings)
    try:
        async with create_sessionmaker(engine)() as session:
            count = await load_reference_data(session, settings.shared_dir)
            print(
                f"reference data: {count} EWC codes, the Brussels region outline and its communes"
            )
            if demo:
                keys = await load_demo(session, settings, brussels_today())
                if keys_file is not None:
                    save_demo_keys(keys_file, keys)
                if keys:
                    print(f"demo data loaded; API keys of the demo organizations in {keys_file}")
                else:
                    print("demo data already there")
    finally:
        await engine.dispose()
    return 0


async def load_roads(force: bool) -> int:
    settings = get_settings()
    engine = create_engine(settings)
    try:
        async with create_sessionmaker(engine)() as session:
            if await roads_loaded(session) and not force:
                await publish_roads(session)
                print("road network already loaded")
                return 0
            await unpublish_roads(session)
            await asyncio.to_thread(import_osm, settings.database_url, settings.shared_dir)
            counts = await build_profiles(session)
            await publish_roads(session)
            print(
                f"road network loaded (© OpenStreetMap contributors): {counts['van']} van edges, {counts['bike']} bike edges"
            )
    finally:
        await engine.dispose()
    return 0


async def play_demo_day(day: date, matrix: str, time_limit_s: float, geojson: Path) -> int:
    report, collection = await run_demo_day(get_settings(), day, matrix, time_limit_s)
    write_geojson(geojson, collection)
    print_report(report, geojson)
    return 0


def save_demo_keys(path: Path, keys: dict[str, dict[str, str]]) -> None:
    """Adds the new keys to the file, by organization id (a file of an earlier version, keyed
    by name, is rewritten so)."""
    if not keys and not path.exists():
        return
    known = demo_keys_by_id(json.loads(path.read_text())) if path.exists() else {}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({**known, **keys}, indent=2, ensure_ascii=False) + "\n")
    path.chmod(0o600)


def admin_token(path: Path) -> int:
    """Prints the admin token kept in `path`, making one the first time."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        # Made readable by its owner alone from the start, never for a moment by others.
        with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as made:
            made.write(secrets.token_urlsafe(32) + "\n")
    print(path.read_text().strip())
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app.cli")
    commands = parser.add_subparsers(dest="command", required=True)
    openapi = commands.add_parser("openapi", help="write openapi/openapi.json")
    openapi.add_argument("--check", action="store_true", help="fail when the file is out of date")
    commands.add_parser("reference", help="load the EWC list, the region outline and the communes")
    demo = commands.add_parser("demo", help="load reference data and the Brussels demo data")
    demo.add_argument("--keys-file", type=Path, default=PROJECT_ROOT / ".data" / "demo-keys.json")
    roads = commands.add_parser("roads", help="load the road network (osmium-tool, osm2pgrouting)")
    roads.add_argument("--force", action="store_true", help="load it again")
    day = commands.add_parser("demo-day", help="play a day in Brussels through the API")
    day.add_argument("--day", type=date.fromisoformat, default=brussels_today() + timedelta(days=1))
    day.add_argument("--matrix", choices=["road", "straight_line"], default="road")
    day.add_argument("--time-limit", type=float, default=20)
    day.add_argument("--geojson", type=Path, default=PROJECT_ROOT / ".data" / "demo-day.geojson")
    token = commands.add_parser("admin-token", help="print the admin token kept in a file")
    token.add_argument("--file", type=Path, default=PROJECT_ROOT / ".data" / "admin-token")
    args = parser.parse_args(argv)
    if args.command == "openapi":
        return export_openapi(args.check)
    if args.command == "reference":
        return asyncio.run(load(demo=False, keys_file=None))
    if args.command == "demo":
        return asyncio.run(load(demo=True, keys_file=args.keys_file))
    if args.command == "roads":
        return asyncio.run(load_roads(args.force))
    if args.command == "demo-day":
        return asyncio.run(play_demo_day(args.day, args.matrix, args.time_limit, args.geojson))
    return admin_token(args.file)


if __name__ == "__main__":
    sys.exit(main())
