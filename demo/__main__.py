"""The demo's commands: `python -m demo seed` loads the demo data of `make run` (after
`python -m app.cli reference`), `python -m demo day` plays `make demo`'s day through the API."""

import argparse
import asyncio
import sys
from datetime import date, timedelta
from pathlib import Path

from app.db import create_engine, create_sessionmaker
from app.kit.local_time import brussels_today
from app.settings import PROJECT_ROOT, get_settings
from demo.day import print_report, run_demo_day, write_geojson
from demo.seed import load_demo, save_demo_keys


async def seed(keys_file: Path) -> int:
    settings = get_settings()
    engine = create_engine(settings, url=settings.migration_url)
    try:
        # The demo in one transaction: its services flush and leave the commit to it.
        async with create_sessionmaker(engine).begin() as session:
            keys = await load_demo(session, settings, brussels_today())
    finally:
        await engine.dispose()
    save_demo_keys(keys_file, keys)
    if keys:
        print(f"demo data loaded; API keys of the demo organizations in {keys_file}")
    else:
        print("demo data already there")
    return 0


async def play_day(day: date, matrix: str, time_limit_s: float, geojson: Path) -> int:
    report, collection = await run_demo_day(get_settings(), day, matrix, time_limit_s)
    write_geojson(geojson, collection)
    print_report(report, geojson)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m demo")
    commands = parser.add_subparsers(dest="command", required=True)
    seed_command = commands.add_parser("seed", help="load the Brussels demo data")
    seed_command.add_argument(
        "--keys-file", type=Path, default=PROJECT_ROOT / ".data" / "demo-keys.json"
    )
    day = commands.add_parser("day", help="play a day in Brussels through the API")
    day.add_argument("--day", type=date.fromisoformat, default=brussels_today() + timedelta(days=1))
    day.add_argument("--matrix", choices=["road", "straight_line"], default="road")
    day.add_argument("--time-limit", type=float, default=20)
    day.add_argument("--geojson", type=Path, default=PROJECT_ROOT / ".data" / "demo-day.geojson")
    args = parser.parse_args(argv)
    if args.command == "seed":
        return asyncio.run(seed(args.keys_file))
    return asyncio.run(play_day(args.day, args.matrix, args.time_limit, args.geojson))


if __name__ == "__main__":
    sys.exit(main())
