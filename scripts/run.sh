#!/usr/bin/env bash
# `make run`: the local database in .data/pg, migrated, with reference and demo data; then the API.
# BOUCLE_DATA_DIR puts the cluster, the admin token and the demo keys elsewhere than .data
# (tests/test_readme.py runs the README against a server of its own so).
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${BOUCLE_DATA_DIR:-.data}

BOUCLE_DATABASE_URL=$(scripts/pg.sh start "$DATA/pg")
export BOUCLE_DATABASE_URL
if [[ -z "${BOUCLE_ADMIN_TOKEN:-}" ]]; then
    BOUCLE_ADMIN_TOKEN=$(.venv/bin/python -m app.cli admin-token --file "$DATA/admin-token")
    export BOUCLE_ADMIN_TOKEN
    echo "admin token (kept in $DATA/admin-token): $BOUCLE_ADMIN_TOKEN"
fi
.venv/bin/alembic upgrade head
.venv/bin/python -m app.cli demo --keys-file "$DATA/demo-keys.json"
.venv/bin/python -m app.cli roads
echo "database: $BOUCLE_DATABASE_URL"
# Webhooks go to public addresses, and to one private destination: the README's example
# receiver on 127.0.0.1:8901. No other address of this machine or its network is reachable.
export BOUCLE_WEBHOOK_PRIVATE_HOSTS=${BOUCLE_WEBHOOK_PRIVATE_HOSTS:-'["127.0.0.1:8901"]'}
# One worker process serves both job queues (plans, events) beside the API; both stop together.
.venv/bin/python -m app.worker &
worker=$!
trap 'kill $worker 2>/dev/null' EXIT
echo "serving boucle on http://127.0.0.1:${PORT:-8000} (API docs at /docs)"
.venv/bin/uvicorn app.main:create_app --factory --host 127.0.0.1 --port "${PORT:-8000}" --no-access-log
