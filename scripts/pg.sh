#!/usr/bin/env bash
# A local PostgreSQL + PostGIS cluster in a folder of the project.
#   scripts/pg.sh start DIR [--throwaway]   init (first time) and start; prints the superuser's
#       URL of the `postgres` database, with no password in it: the password is in DIR/pgpass,
#       a PostgreSQL password file (PGPASSFILE). The cluster keeps PostgreSQL's durability
#       (fsync, synchronous commits); --throwaway trades it for speed, for the test clusters
#       that are removed after the run. The application's database and roles are made by
#       `python -m app.cli database` (scripts/run.sh).
#   scripts/pg.sh stop DIR    stop it
# As root, the server runs as the `postgres` system user (PostgreSQL refuses root); when that
# user cannot reach DIR (a checkout under /root, say) the cluster lives in /var/tmp and DIR
# links to it.
# A new cluster gets a random password for `postgres`, kept in DIR/password and DIR/pgpass
# (mode 0600), and asks for it on TCP and on its socket alike (scram-sha-256), so that no other
# local account gets in. A cluster made before that (trust, no DIR/password) still starts as
# it was, with a warning.
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

# The superuser's line of DIR/pgpass (mode 0600 from the start, owned by who runs this).
write_pgpass() {
    [[ -f "$1/password" && ! -f "$1/pgpass" ]] || return 0
    (umask 077 && echo "127.0.0.1:*:*:postgres:$(cat "$1/password")" >"$1/pgpass")
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
    write_pgpass "$dir"
    echo "postgresql+asyncpg://postgres@127.0.0.1:$port/postgres"
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
