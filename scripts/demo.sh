#!/usr/bin/env bash
# `make demo`: a day in Brussels played through the API on a fresh database of the local
# cluster, with the road network; prints a report and writes the plan as GeoJSON.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/pg.sh start .data/pg >/dev/null
BOUCLE_DATABASE_URL=$(scripts/pg.sh fresh .data/pg boucle_demo_day)
export BOUCLE_DATABASE_URL
.venv/bin/alembic upgrade head
.venv/bin/python -m app.cli reference
.venv/bin/python -m app.cli roads
.venv/bin/python -m app.cli demo-day --geojson .data/demo-day.geojson "$@"
