"""Solution quality on public benchmarks with best-known solutions.

    python -m bench.routing solomon --dir ../shared/benchmarks/solomon [--instances C101,R101]
                                      [--time-limit 10] [--engines portfolio,pyvrp,ortools]
                                      [--processes N] [--json]
    python -m bench.routing homberger --dir ../shared/benchmarks/homberger_200 ...
    python -m bench.routing lilim --dir DIR ...

Each instance is solved by `logistics.solve` with the hierarchical objective (vehicles, then
distance), as a route plan of the API is: the portfolio on every core, or on `--processes`
processes (what a worker gives each of its plan slots: its cores divided by its plan
concurrency, `app.jobs.cores`). With `--engines`,
each engine named is also run alone, in one process, after the portfolio on the same
instance, so that every figure is measured in the same run. Each plan is re-checked in double
precision and compared with the best-known solution in `bks.csv` beside the instances."""

import argparse
import csv
import json
import sys
import time
from pathlib import Path
from typing import Any

from logistics.instances import Instance, check_routes, read_li_lim, read_solomon
from logistics.portfolio import ENGINES, solve

PORTFOLIO = "portfolio"


def _instance_files(directory: Path, names: list[str] | None) -> list[Path]:
    files = sorted(p for p in directory.glob("*.txt") if p.name.lower() != "readme.txt")
    if names:
        wanted = {n.lower() for n in names}
        files = [p for p in files if p.stem.lower() in wanted]
    return files


def _best_known(directory: Path) -> dict[str, tuple[int, float]]:
    path = directory / "bks.csv"
    if not path.exists():
        return {}
    with path.open() as f:
        return {
            row["instance"].lower(): (int(row["vehicles"]), float(row["distance"]))
            for row in csv.DictReader(f)
        }


def run_instance(
    instance: Instance,
    time_limit_s: float,
    paired: bool,
    engine: str = PORTFOLIO,
    processes: int | None = None,
) -> dict[str, Any]:
    """The portfolio's plan (`engine` "portfolio") on `processes` processes (every core by
    default), or one engine's alone in one process."""
    started = time.monotonic()
    if engine == PORTFOLIO:
        solution = solve(instance.problem, time_limit_s, processes=processes)
    else:
        solution = solve(instance.problem, time_limit_s, engines=[engine], processes=1)
    seconds = time.monotonic() - started
    node_routes = [
        [s.location for s in route.stops if s.kind in ("pickup", "delivery")]
        for route in solution.routes
    ]
    feasible, distance, problem = check_routes(instance, node_routes, paired=paired)
    return {
        "name": instance.name,
        "engine": engine,
        "found_by": solution.engine,
        "feasible": feasible and not solution.unassigned,
        "vehicles": len(solution.routes),
        "distance": round(distance, 2) if feasible else None,
        "seconds": round(seconds, 2),
        "routes": node_routes,
        "runs": [
            {"engine": r.engine, "vehicles": r.vehicles, "feasible": r.feasible}
            for r in solution.runs
        ],
        "problem": problem
        or (f"{len(solution.unassigned)} unassigned" if solution.unassigned else ""),
    }


def _with_best_known(result: dict[str, Any], best: tuple[int, float] | None) -> dict[str, Any]:
    result["bks_vehicles"], result["bks_distance"] = best if best else (None, None)
    result["gap_pct"] = (
        round((result["distance"] / result["bks_distance"] - 1) * 100, 2)
        if result["distance"] is not None and result["bks_distance"]
        else None
    )
    return result


def summary(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Vehicles and distance over the instances solved feasibly; against the best-known, the
    vehicles where there is one and the mean distance gap over the instances solved at the
    best-known vehicle count."""
    feasible = [r for r in results if r["feasible"]]
    known = [r for r in feasible if r["bks_vehicles"] is not None]
    at_bks = [r["gap_pct"] for r in known if r["vehicles"] == r["bks_vehicles"]]
    return {
        "total_vehicles": sum(r["vehicles"] for r in feasible),
        "total_distance": round(sum(r["distance"] for r in feasible), 2),
        "total_bks_vehicles": sum(r["bks_vehicles"] for r in known),
        "instances_at_bks_vehicles": len(at_bks),
        "mean_gap_pct_at_bks_vehicles": round(sum(at_bks) / len(at_bks), 3) if at_bks else None,
        "infeasible": len(results) - len(feasible),
    }


def _line(result: dict[str, Any]) -> str:
    found = f" by {result['found_by']}" if result["engine"] == PORTFOLIO else ""
    return (
        f"{result['name']:>10} {result['engine']:>9}  vehicles {result['vehicles']:>3} "
        f"(bks {result['bks_vehicles']})  distance {result['distance']!s:>9} "
        f"(bks {result['bks_distance']})  gap {result['gap_pct']!s:>6} %  "
        f"{result['seconds']:6.1f} s{found}"
        f"{'' if result['feasible'] else '  INFEASIBLE: ' + result['problem']}"
    )


def _total_line(engine: str, figures: dict[str, Any], baseline: dict[str, Any] | None) -> str:
    vehicles, distance = figures["total_vehicles"], figures["total_distance"]
    parts = [f"{engine:>9}: vehicles {vehicles}"]
    if figures["total_bks_vehicles"]:
        bks = figures["total_bks_vehicles"]
        parts[0] += f" / best-known {bks} = {vehicles / bks:.3f} x"
        parts.append(
            f"mean gap at the best-known count {figures['mean_gap_pct_at_bks_vehicles']} % "
            f"over {figures['instances_at_bks_vehicles']} instances"
        )
    parts.append(f"distance {distance}")
    if baseline is not None and baseline["total_vehicles"] and baseline["total_distance"]:
        parts.append(
            f"{vehicles / baseline['total_vehicles']:.3f} x the portfolio's vehicles, "
            f"{distance / baseline['total_distance']:.3f} x its distance"
        )
    parts.append(f"{figures['infeasible']} infeasible")
    return "; ".join(parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.routing",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("kind", choices=["solomon", "homberger", "lilim"])
    parser.add_argument("--dir", type=Path, required=True)
    parser.add_argument("--instances", type=lambda s: s.split(","), default=None)
    parser.add_argument("--time-limit", type=float, default=10.0)
    parser.add_argument(
        "--engines",
        type=lambda s: s.split(","),
        default=[PORTFOLIO],
        help=f"'{PORTFOLIO}' and engines alone among {', '.join(ENGINES)} (default: %(default)s)",
    )
    parser.add_argument(
        "--processes",
        type=int,
        default=None,
        help="the portfolio's processes (default: every core, as a worker with one plan slot)",
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    unknown = set(args.engines) - {PORTFOLIO, *ENGINES}
    if unknown:
        parser.error(f"unknown engines {sorted(unknown)}")

    bks = _best_known(args.dir)
    reader = read_li_lim if args.kind == "lilim" else read_solomon
    results: dict[str, list[dict[str, Any]]] = {engine: [] for engine in args.engines}
    for path in _instance_files(args.dir, args.instances):
        instance = reader(path)
        best = bks.get(instance.name.lower()) or bks.get(path.stem.lower())
        for engine in args.engines:
            result = run_instance(
                instance, args.time_limit, args.kind == "lilim", engine, args.processes
            )
            results[engine].append(_with_best_known(result, best))
            if not args.json:
                print(_line(result), flush=True)

    totals = {engine: summary(rs) for engine, rs in results.items()}
    if args.json:
        json.dump(
            {
                engine: {
                    "instances": [{k: v for k, v in r.items() if k != "problem"} for r in rs],
                    **totals[engine],
                }
                for engine, rs in results.items()
            },
            sys.stdout,
        )
        print()
    else:
        baseline = totals.get(PORTFOLIO)
        for engine, figures in totals.items():
            print(_total_line(engine, figures, None if engine == PORTFOLIO else baseline))
    return 0 if all(r["feasible"] for rs in results.values() for r in rs) else 1


if __name__ == "__main__":
    sys.exit(main())
