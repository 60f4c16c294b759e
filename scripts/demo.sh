#!/usr/bin/env bash
# `make demo`: a day in Brussels played through the API on a fresh database of the local
# cluster, with the road network; prints a report and writes the plan as GeoJSON. Each part
# connects as its own role, as in scripts/run.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

admin_url=$(scripts/pg.sh start .data/pg)
PGPASSFILE=$(readlink -f .data/pg)/pgpass
export PGPASSFILE
set -a
# shellcheck disable=SC1090
source <(.venv/bin/python -m app.cli database --admin-url "$admin_url" --name boucle_demo_day \
    --password-file "$PGPASSFILE" --fresh)
set +a
.venv/bin/alembic upgrade head
.venv/bin/python -m app.cli reference
.venv/bin/python -m app.cli roads
.venv/bin/python -m app.cli districts
.venv/bin/python -m app.cli addresses
.venv/bin/python -m demo day --geojson .data/demo-day.geojson "$@"
