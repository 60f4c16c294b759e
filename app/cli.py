"""Operator commands: `python -m app.cli <command>`, one of openapi, database, reference, roads,
districts, addresses and admin-token. The demo's are `python -m demo`'s."""

import argparse
import asyncio
import json
import secrets
import sys
from pathlib import Path

from sqlalchemy.engine import make_url

from app.database_roles import (
    APPLICATION,
    OPEN_DATA,
    OWNER,
    new_passwords,
    prepare_database,
    read_password_file,
    role_url,
    write_password_file,
)
from app.db import create_engine, create_sessionmaker
from app.districts.loader import load_districts
from app.geocoding.loader import load_addresses
from app.kit.private_files import write_private_file
from app.reference import load_reference_data
from app.roads.loader import load_road_network
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


async def load_reference() -> int:
    settings = get_settings()
    engine = create_engine(settings, url=settings.migration_url)
    try:
        async with create_sessionmaker(engine).begin() as session:
            count = await load_reference_data(session, settings.shared_dir)
            print(
                f"reference data: {count} EWC codes, the Brussels region outline and its communes"
            )
    finally:
        await engine.dispose()
    return 0


async def load_roads(force: bool) -> int:
    settings = get_settings()
    engine = create_engine(settings, url=settings.migration_url)
    try:
        counts = await load_road_network(engine, settings.migration_url, settings.shared_dir, force)
    finally:
        await engine.dispose()
    if counts is None:
        print("road network already loaded")
    else:
        print(
            f"road network loaded (© OpenStreetMap contributors): {counts['van']} van edges, {counts['bike']} bike edges"
        )
    return 0


async def load_shopping_districts() -> int:
    settings = get_settings()
    engine = create_engine(settings, url=settings.migration_url)
    try:
        loaded = await load_districts(engine, settings.shared_dir)
    finally:
        await engine.dispose()
    print(
        f"shopping districts (© OpenStreetMap contributors): {loaded.districts} districts of "
        f"{loaded.shopfronts} shopfronts ({loaded.shops} shops); {loaded.written} written, "
        f"{loaded.removed} removed, in {loaded.seconds} s"
    )
    return 0


async def load_geocoder() -> int:
    settings = get_settings()
    engine = create_engine(settings, url=settings.migration_url)
    try:
        report = await load_addresses(engine, settings.shared_dir)
    finally:
        await engine.dispose()
    if report.streets == 0:
        print("no street loaded: load the communes first (python -m app.cli reference)")
        return 1
    print(
        f"addresses loaded (© OpenStreetMap contributors) in {report.seconds:.1f} s: "
        f"{report.streets} streets ({report.street_names} names), {report.house_numbers} "
        f"features with a house number ({report.addresses} numbers; {report.postcode_tagged} "
        f"with their own postcode, the others their street's); left out: "
        f"{report.without_street} naming no street, {report.unmatched_street} whose street is "
        f"not one of the communes'"
    )
    return 0


async def make_database(admin_url: str, name: str, password_file: Path, fresh: bool) -> int:
    """The roles and database `name` (app.database_roles), their passwords kept in
    `password_file`; prints the three URLs as shell assignments (they carry no password)."""
    passwords = {**new_passwords(), **read_password_file(password_file)}
    await prepare_database(admin_url, name, passwords, fresh=fresh)
    write_password_file(password_file, str(make_url(admin_url).host), passwords)
    database = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    for variable, role in (
        ("BOUCLE_MIGRATION_DATABASE_URL", OWNER),
        ("BOUCLE_DATABASE_URL", APPLICATION),
        ("BOUCLE_OPEN_DATA_DATABASE_URL", OPEN_DATA),
    ):
        print(f"{variable}={role_url(database, role)}")
    return 0


def admin_token(path: Path) -> int:
    """Prints the admin token kept in `path`, making one the first time."""
    if not path.exists():
        write_private_file(path, secrets.token_urlsafe(32) + "\n")
    print(path.read_text().strip())
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app.cli")
    commands = parser.add_subparsers(dest="command", required=True)
    openapi = commands.add_parser("openapi", help="write openapi/openapi.json")
    openapi.add_argument("--check", action="store_true", help="fail when the file is out of date")
    commands.add_parser("reference", help="load the EWC list, the region outline and the communes")
    roads = commands.add_parser("roads", help="load the road network (osmium-tool, osm2pgrouting)")
    roads.add_argument("--force", action="store_true", help="load it again")
    commands.add_parser(
        "districts", help="derive the shopping districts from the OSM extract (osmium-tool)"
    )
    commands.add_parser(
        "addresses", help="load the geocoder's streets and house numbers (osmium-tool)"
    )
    database = commands.add_parser(
        "database", help="make the database and its roles, as the cluster's superuser"
    )
    database.add_argument("--admin-url", required=True, help="the superuser's URL")
    database.add_argument("--name", default="boucle")
    database.add_argument("--password-file", type=Path, required=True, help="PGPASSFILE to keep")
    database.add_argument("--fresh", action="store_true", help="drop the database first")
    token = commands.add_parser("admin-token", help="print the admin token kept in a file")
    token.add_argument("--file", type=Path, default=PROJECT_ROOT / ".data" / "admin-token")
    args = parser.parse_args(argv)
    if args.command == "openapi":
        return export_openapi(args.check)
    if args.command == "reference":
        return asyncio.run(load_reference())
    if args.command == "roads":
        return asyncio.run(load_roads(args.force))
    if args.command == "districts":
        return asyncio.run(load_shopping_districts())
    if args.command == "addresses":
        return asyncio.run(load_geocoder())
    if args.command == "database":
        return asyncio.run(make_database(args.admin_url, args.name, args.password_file, args.fresh))
    return admin_token(args.file)


if __name__ == "__main__":
    sys.exit(main())
