"""A route's statement alone on PostgreSQL: pgbench runs the very statement the route runs, as
the API runs it (prepared, as the service's role, as many connections as wrk holds), with no API
in front, on the same cores. Its rate is the most the route could answer if the API's own work,
and the request's other statements, cost nothing: a target above it is out of reach of any
change to the API.

pgbench is PostgreSQL's own (in the cluster's bin directory, `scripts/pg.sh`'s `PG_BIN`)."""

import os
import re
import subprocess
from pathlib import Path

from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import make_url

from app.candidates.repository import OFFERS_FOR_REQUEST
from app.kit.pagination import PageParams
from app.kit.spatial import NearParams, near_query
from app.listings.offers import OFFERS
from testbed.database import APPLICATION, as_role

PG_BIN = Path(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))
# The requests the candidates' script draws from, numbered so that a draw costs an index read.
NUMBERED_REQUESTS_SQL = """
CREATE TABLE IF NOT EXISTS bench_numbered_requests AS
SELECT row_number() OVER (ORDER BY id) AS n, id FROM material_requests;
CREATE UNIQUE INDEX IF NOT EXISTS bench_numbered_requests_n ON bench_numbered_requests (n);
GRANT SELECT ON bench_numbered_requests TO PUBLIC;
"""


def near_search_script(point: tuple[float, float], radius_km: float, limit: int) -> str:
    """The near search's statement (`GET /v1/offers?near=...&radius_km=...&limit=...` with no
    other filter), as `app.listings.service.list_listings` builds it."""
    query = near_query(OFFERS.model, [], NearParams(point, radius_km), PageParams(limit, None))
    compiled = query.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True})
    return f"{compiled};\n"


def candidates_script(requests: int, limit: int) -> str:
    """The candidates' statement of a request drawn at random among `requests` (numbered by
    NUMBERED_REQUESTS_SQL), on its generic plan as the route runs it (PGOPTIONS)."""
    statement = OFFERS_FOR_REQUEST.text.replace(":limit", str(limit))
    return (
        f"\\set n random(1, {requests})\n"
        "SELECT id AS anchor_id FROM bench_numbered_requests WHERE n = :n \\gset\n"
        f"{statement};\n"
    )


def statements_per_s(
    database_url: str, script: str, seconds: float, connections: int, workdir: Path
) -> float:
    """What pgbench runs of `script` a second, over `connections` connections as the service's
    role."""
    url = make_url(as_role(database_url, APPLICATION))
    path = workdir / "statement.sql"
    path.write_text(script)
    command = [
        str(PG_BIN / "pgbench"),
        "--no-vacuum",
        "--protocol=prepared",
        f"--client={connections}",
        "--jobs=2",
        f"--time={max(1, round(seconds))}",
        f"--file={path}",
        f"--host={url.host}",
        f"--port={url.port}",
        f"--username={url.username}",
        str(url.database),
    ]
    environment = {
        **os.environ,
        "PGPASSWORD": url.password or "",
        "PGOPTIONS": "-c plan_cache_mode=force_generic_plan",
    }
    done = subprocess.run(command, env=environment, capture_output=True, text=True, check=True)
    found = re.search(r"tps = ([0-9.]+)", done.stdout)
    if found is None:
        raise RuntimeError(f"pgbench printed no rate:\n{done.stdout}\n{done.stderr}")
    return float(found.group(1))
