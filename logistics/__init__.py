"""The routing engine: problem model, travel matrices, the engines (PyVRP and OR-Tools) and
their portfolio, KPIs and benchmarks. Plain data in, plain data out; it never imports `app`
or FastAPI. `solve(problem, time_limit_s)` is the entry point."""

from logistics.portfolio import solve

__all__ = ["solve"]
