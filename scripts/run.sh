#!/usr/bin/env bash
# `make run`: the local database in .data/pg, migrated, with reference and demo data; then the API.
# BOUCLE_DATA_DIR puts the cluster, the admin token and the demo keys elsewhere than .data
# (tests/test_readme.py runs the README against a server of its own so).
# Each part connects as its own role (app/database_roles.py): the migrations and loaders as the
# owner, the API and the worker as the application, /ogc as the open data; their passwords are
# in $DATA/pg/pgpass (mode 0600), which every client reads as PGPASSFILE: no URL, no output
# carries a password.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${BOUCLE_DATA_DIR:-.data}

admin_url=$(scripts/pg.sh start "$DATA/pg")
PGPASSFILE=$(readlink -f "$DATA/pg")/pgpass
export PGPASSFILE
set -a
# shellcheck disable=SC1090
source <(.venv/bin/python -m app.cli database --admin-url "$admin_url" --password-file "$PGPASSFILE")
set +a
if [[ -z "${BOUCLE_ADMIN_TOKEN:-}" ]]; then
    BOUCLE_ADMIN_TOKEN=$(.venv/bin/python -m app.cli admin-token --file "$DATA/admin-token")
    export BOUCLE_ADMIN_TOKEN
    echo "admin token: in $DATA/admin-token"
fi
.venv/bin/alembic upgrade head
.venv/bin/python -m app.cli reference
.venv/bin/python -m demo seed --keys-file "$DATA/demo-keys.json"
.venv/bin/python -m app.cli roads
.venv/bin/python -m app.cli districts
.venv/bin/python -m app.cli addresses
echo "database: $BOUCLE_DATABASE_URL (passwords in $PGPASSFILE)"
# Webhooks go to public addresses, and to one private destination: the README's example
# receiver on 127.0.0.1:8901. No other address of this machine or its network is reachable.
export BOUCLE_WEBHOOK_PRIVATE_HOSTS=${BOUCLE_WEBHOOK_PRIVATE_HOSTS:-'["127.0.0.1:8901"]'}
# One worker process serves both job queues (plans, events) beside the API; both stop together.
.venv/bin/python -m app.worker &
worker=$!
trap 'kill $worker 2>/dev/null' EXIT
echo "serving boucle on http://127.0.0.1:${PORT:-8000} (API docs at /docs)"
# One API process per core unless BOUCLE_API_PROCESSES says how many (app/serve.py).
.venv/bin/python -m app.serve --host 127.0.0.1 --port "${PORT:-8000}" --no-access-log
