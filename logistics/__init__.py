"""The routing engine: problem model, travel matrices, the OR-Tools solver, KPIs and benchmarks.
Plain data in, plain data out; it never imports `app` or FastAPI."""
