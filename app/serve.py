"""`python -m app.serve`: the API in `Settings.api_processes` processes (one per core by
default), uvicorn's workers on one listening socket; `make run` and the image start it.
Uvicorn's defaults hold otherwise: X-Forwarded-For is read from the addresses
FORWARDED_ALLOW_IPS names (127.0.0.1 unless set), as the rate limit's addresses need.

What each process keeps for itself stays right with several: the rate limit counts in
PostgreSQL, a key is looked up on every request (nothing cached), the statistics' answers a
process keeps are checked against the database on every read, and the startup reads only
files. The Prometheus metrics are the one exception, and are shared here: every process writes
them to files in one directory (the client's multiprocess mode), `/metrics` adds them up in
whichever process answers, and the directory is emptied at each start."""

import argparse
import gc
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from fastapi import FastAPI

from app.settings import get_settings

# prometheus_client's setting: where the processes write their metrics (read at its import).
METRICS_DIRECTORY = "PROMETHEUS_MULTIPROC_DIR"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m app.serve", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--no-access-log", action="store_true")
    options = parser.parse_args(argv)
    processes = get_settings().api_process_count
    with metrics_shared_by(processes):
        uvicorn.run(
            "app.serve:serving_app",
            factory=True,
            host=options.host,
            port=options.port,
            workers=processes,
            access_log=not options.no_access_log,
        )


def serving_app() -> FastAPI:
    """The app of a serving process, whose objects so far (the modules, the routes, their
    schemas and statements) live as long as it does: frozen out of the garbage collector's
    sight, so that its full collections, which requests' garbage sets off, no longer walk them
    all (a near search of 20 offers spent 3.4 ms per request collecting, 1.1 ms after)."""
    # Imported here: prometheus_client reads METRICS_DIRECTORY when it is first imported.
    from app.main import create_app

    app = create_app()
    gc.freeze()
    return app


@contextmanager
def metrics_shared_by(processes: int) -> Iterator[None]:
    """Several processes write their metrics into a directory of this start's (unless one is
    set already), which is removed when they end; one process keeps them in memory."""
    if processes == 1 or METRICS_DIRECTORY in os.environ:
        yield
        return
    directory = tempfile.mkdtemp(prefix="boucle-metrics-")
    os.environ[METRICS_DIRECTORY] = directory
    try:
        yield
    finally:
        del os.environ[METRICS_DIRECTORY]
        shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
