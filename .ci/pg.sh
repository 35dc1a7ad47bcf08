#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the test suite: `.ci/pg.sh start` prints the URL to use,
# `.ci/pg.sh stop` removes it. Installs the server from Debian's packages when it is missing.
# PostgreSQL refuses to run as root, so the cluster belongs to the `postgres` user.
set -euo pipefail
PGPORT="${PARKBENCH_PG_PORT:-54329}"
PGDATA_DIR="${PARKBENCH_PG_DIR:-/tmp/parkbench-pg-$PGPORT}"

find_bin() {
  local candidate
  for candidate in /usr/lib/postgresql/*/bin; do
    [ -x "$candidate/pg_ctl" ] && { echo "$candidate"; return 0; }
  done
  return 1
}

ensure_installed() {
  if ! find_bin >/dev/null; then
    echo "pg.sh: installing PostgreSQL from Debian packages" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq postgresql >&2
  fi
  id postgres >/dev/null 2>&1 || useradd --system --home /var/lib/postgresql --shell /bin/bash postgres
}

as_pg() {
  if [ "$(id -u)" = 0 ]; then
    su postgres -s /bin/bash -c "$*"
  else
    bash -c "$*"
  fi
}

case "${1:-}" in
  start)
    ensure_installed
    BIN=$(find_bin)
    if [ -f "$PGDATA_DIR/postmaster.pid" ] && as_pg "$BIN/pg_ctl -D $PGDATA_DIR status" >/dev/null 2>&1; then
      echo "postgresql+psycopg://postgres@127.0.0.1:$PGPORT/postgres"
      exit 0
    fi
    rm -rf "$PGDATA_DIR"
    mkdir -p "$PGDATA_DIR"
    [ "$(id -u)" = 0 ] && chown postgres "$PGDATA_DIR"
    as_pg "$BIN/initdb -D $PGDATA_DIR -U postgres --auth=trust -E UTF8 --locale=C.UTF-8" >/dev/null
    # Tuned for a disposable test cluster: durability off, enough connections for the races.
    as_pg "$BIN/pg_ctl -D $PGDATA_DIR -l $PGDATA_DIR/server.log -w -o '-p $PGPORT -k /tmp -c listen_addresses=127.0.0.1 -c max_connections=200 -c fsync=off -c synchronous_commit=off -c full_page_writes=off' start" >&2
    echo "postgresql+psycopg://postgres@127.0.0.1:$PGPORT/postgres"
    ;;
  stop)
    BIN=$(find_bin) || exit 0
    if [ -d "$PGDATA_DIR" ]; then
      as_pg "$BIN/pg_ctl -D $PGDATA_DIR -m fast stop" >/dev/null 2>&1 || true
      rm -rf "$PGDATA_DIR"
    fi
    ;;
  *)
    echo "usage: .ci/pg.sh start|stop" >&2
    exit 2
    ;;
esac
