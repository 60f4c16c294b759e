"""Solution quality on public benchmarks with best-known solutions.

    python -m logistics.bench solomon --dir ../shared/benchmarks/solomon [--instances C101,R101]
                                      [--time-limit 10] [--json]
    python -m logistics.bench homberger --dir ../shared/benchmarks/homberger_200 ...
    python -m logistics.bench lilim --dir DIR ...

Each instance is solved with the hierarchical objective (vehicles, then distance), re-checked
in double precision, and compared with the best-known solution in `bks.csv` beside it."""

import argparse
import csv
import json
import sys
import time
from pathlib import Path
from typing import Any

from logistics.instances import Instance, check_routes, read_li_lim, read_solomon
from logistics.solver import PORTFOLIO, solve_in_parallel


def _instance_files(kind: str, directory: Path, names: list[str] | None) -> list[Path]:
    files = sorted(p for p in directory.glob("*.txt") if p.name.lower() != "readme.txt")
    if names:
        wanted = {n.lower() for n in names}
        files = [p for p in files if p.stem.lower() in wanted]
    return files


def _best_known(directory: Path) -> dict[str, tuple[int, float]]:
    with (directory / "bks.csv").open() as f:
        return {
            row["instance"].lower(): (int(row["vehicles"]), float(row["distance"]))
            for row in csv.DictReader(f)
        }


def run_instance(
    instance: Instance, time_limit_s: float, paired: bool, workers: int = 1
) -> dict[str, Any]:
    started = time.monotonic()
    solution = solve_in_parallel(instance.problem, time_limit_s, PORTFOLIO[:workers])
    seconds = time.monotonic() - started
    node_routes = [
        [s.location for s in route.stops if s.kind in ("pickup", "delivery")]
        for route in solution.routes
    ]
    feasible, distance, problem = check_routes(instance, node_routes, paired=paired)
    return {
        "name": instance.name,
        "feasible": feasible and not solution.unassigned,
        "vehicles": len(solution.routes),
        "distance": round(distance, 2) if feasible else None,
        "seconds": round(seconds, 2),
        "routes": node_routes,
        "problem": problem
        or (f"{len(solution.unassigned)} unassigned" if solution.unassigned else ""),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m logistics.bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("kind", choices=["solomon", "homberger", "lilim"])
    parser.add_argument("--dir", type=Path, required=True)
    parser.add_argument("--instances", type=lambda s: s.split(","), default=None)
    parser.add_argument("--time-limit", type=float, default=10.0)
    parser.add_argument(
        "--workers",
        type=int,
        choices=range(1, len(PORTFOLIO) + 1),
        default=len(PORTFOLIO),
        help="searches run at once on as many cores, the best plan kept (default: %(default)s)",
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    bks = _best_known(args.dir)
    reader = read_li_lim if args.kind == "lilim" else read_solomon
    results = []
    for path in _instance_files(args.kind, args.dir, args.instances):
        result = run_instance(
            reader(path), args.time_limit, paired=args.kind == "lilim", workers=args.workers
        )
        best = bks.get(result["name"].lower()) or bks.get(path.stem.lower())
        result["bks_vehicles"], result["bks_distance"] = best if best else (None, None)
        result["gap_pct"] = (
            round((result["distance"] / result["bks_distance"] - 1) * 100, 2)
            if result["distance"] is not None and result["bks_distance"]
            else None
        )
        results.append(result)
        if not args.json:
            print(
                f"{result['name']:>10}  vehicles {result['vehicles']:>3} (bks {result['bks_vehicles']})  "
                f"distance {result['distance']!s:>9} (bks {result['bks_distance']})  gap {result['gap_pct']!s:>6} %  "
                f"{result['seconds']:6.1f} s  {'' if result['feasible'] else 'INFEASIBLE: ' + result['problem']}",
                flush=True,
            )

    known = [r for r in results if r["bks_vehicles"] is not None and r["feasible"]]
    total_vehicles = sum(r["vehicles"] for r in known)
    total_bks = sum(r["bks_vehicles"] for r in known)
    at_bks = [r["gap_pct"] for r in known if r["vehicles"] == r["bks_vehicles"]]
    summary = {
        "instances": [{k: v for k, v in r.items() if k != "problem"} for r in results],
        "total_vehicles": total_vehicles,
        "total_bks_vehicles": total_bks,
        "mean_gap_pct_at_bks_vehicles": round(sum(at_bks) / len(at_bks), 3) if at_bks else None,
    }
    if args.json:
        json.dump(summary, sys.stdout)
        print()
    else:
        ratio = total_vehicles / total_bks if total_bks else float("nan")
        print(
            f"total vehicles {total_vehicles} / best-known {total_bks} = {ratio:.3f} x; "
            f"mean distance gap at the best-known vehicle count {summary['mean_gap_pct_at_bks_vehicles']} % "
            f"over {len(at_bks)} of {len(results)} instances; "
            f"{sum(not r['feasible'] for r in results)} infeasible"
        )
    return 0 if all(r["feasible"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
