#!/usr/bin/env bash
# A local PostgreSQL + PostGIS cluster in a folder of the project.
#   scripts/pg.sh start DIR [--throwaway]   init (first time) and start; prints the database URL.
#       The cluster keeps PostgreSQL's durability (fsync, synchronous commits); --throwaway
#       trades it for speed, for the test clusters that are removed after the run.
#   scripts/pg.sh stop DIR    stop it
#   scripts/pg.sh fresh DIR NAME   (started) drop and create database NAME; prints its URL
# As root, the server runs as the `postgres` system user (PostgreSQL refuses root); when that
# user cannot reach DIR (a checkout under /root, say) the cluster lives in /var/tmp and DIR
# links to it.
# A new cluster gets a random password for `postgres`, kept in DIR/password (mode 0600), and
# asks for it on TCP and on its socket alike (scram-sha-256), so that no other local account
# gets in; the printed URLs carry it. A cluster made before that (trust, no DIR/password)
# still starts as it was, with a warning.
set -euo pipefail

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
cmd=${1:?usage: pg.sh start|stop DIR}
dir=${2:?usage: pg.sh start|stop DIR}
mkdir -p "$(dirname "$dir")"
dir=$(cd "$(dirname "$dir")" && pwd)/$(basename "$dir")

as_pg() {
    if [[ $(id -u) -eq 0 ]]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi
}

# URL-safe characters only, so that the password goes into a URL as it is.
new_password() {
    python3 -c 'import secrets; print(secrets.token_urlsafe(24))'
}

# The user part of the cluster's URLs: `postgres`, and its password if the cluster has one.
url_user() {
    if [[ -f "$1/password" ]]; then echo "postgres:$(cat "$1/password")"; else echo postgres; fi
}

# psql or createdb on the cluster in $dir, with its password.
as_pg_client() {
    local password=""
    [[ -f "$dir/password" ]] && password=$(cat "$dir/password")
    as_pg env PGPASSWORD="$password" "$@"
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# The port the cluster had, so that its URL stays the same across restarts, if still free.
previous_port() {
    [[ -f "$1/port" ]] || return 1
    python3 -c 'import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
print(sys.argv[1])' "$(cat "$1/port")" 2>/dev/null
}

case "$cmd" in
start)
    durability=""
    [[ "${3:-}" == "--throwaway" ]] && durability="-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    if [[ ! -e "$dir" ]]; then
        if [[ $(id -u) -eq 0 ]] && ! runuser -u postgres -- test -x "$(dirname "$dir")"; then
            real=/var/tmp/boucle-pg-$(echo -n "$dir" | md5sum | cut -c1-12)
            rm -rf "$real"
            mkdir -p "$real"
            ln -s "$real" "$dir"
        else
            mkdir -p "$dir"
        fi
        dir=$(readlink -f "$dir")
        (umask 077 && new_password >"$dir/password")
        [[ $(id -u) -eq 0 ]] && chown -R postgres: "$dir"
        as_pg "$PG_BIN/initdb" -D "$dir/data" -U postgres --auth=scram-sha-256 \
            --pwfile="$dir/password" -E UTF8 --locale=C.UTF-8 >/dev/null
    fi
    dir=$(readlink -f "$dir")
    [[ -f "$dir/password" ]] ||
        echo "pg.sh: $dir was made without a password (trust): any local account can use it." \
            "Stop it and remove the folder to get a new cluster with one." >&2
    if ! as_pg "$PG_BIN/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
        port=$(previous_port "$dir" || free_port)
        as_pg "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start \
            -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=200 $durability" >/dev/null
        echo "$port" | as_pg tee "$dir/port" >/dev/null
    fi
    port=$(cat "$dir/port")
    as_pg_client "$PG_BIN/psql" -h 127.0.0.1 -p "$port" -U postgres -d postgres -qAt \
        -c "SELECT 1 FROM pg_database WHERE datname = 'boucle'" | grep -q 1 ||
        as_pg_client "$PG_BIN/createdb" -h 127.0.0.1 -p "$port" -U postgres boucle
    echo "postgresql+asyncpg://$(url_user "$dir")@127.0.0.1:$port/boucle"
    ;;
fresh)
    name=${3:?usage: pg.sh fresh DIR NAME}
    dir=$(readlink -f "$dir")
    port=$(cat "$dir/port")
    as_pg_client "$PG_BIN/psql" -h 127.0.0.1 -p "$port" -U postgres -d postgres -qAt \
        -c "DROP DATABASE IF EXISTS $name WITH (FORCE)" -c "CREATE DATABASE $name" >/dev/null
    echo "postgresql+asyncpg://$(url_user "$dir")@127.0.0.1:$port/$name"
    ;;
stop)
    dir=$(readlink -f "$dir")
    if [[ -e "$dir/data" ]]; then
        as_pg "$PG_BIN/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
    fi
    ;;
*)
    echo "usage: pg.sh start|stop|fresh DIR [NAME]" >&2
    exit 2
    ;;
esac
