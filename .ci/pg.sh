#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the test suite: `.ci/pg.sh start` prints the URL to use
# (and is idempotent), `.ci/pg.sh status` succeeds when it is running, `.ci/pg.sh stop`
# removes it. Installs the server from Debian's packages when it is missing.
# PostgreSQL refuses to run as root, so the cluster belongs to the `postgres` user.
set -euo pipefail
PGPORT="${PARKBENCH_PG_PORT:-54329}"
PGDATA_DIR="${PARKBENCH_PG_DIR:-/tmp/parkbench-pg-$PGPORT}"
# Trust for everyone on loopback, except this role, which must give its password: the tests
# use it to check how a refused password is reported.
PROBE_RULE="host all parkbench_auth_probe 127.0.0.1/32 scram-sha-256"

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
    # No packaged "main" cluster: it would start on 5432 and outlive the test run.
    mkdir -p /etc/postgresql-common
    grep -qs '^create_main_cluster' /etc/postgresql-common/createcluster.conf ||
      echo 'create_main_cluster = false' >>/etc/postgresql-common/createcluster.conf
    apt-get update -qq >&2
    # confold: keep the createcluster.conf written above instead of asking (no stdin in CI).
    apt-get install -y -qq -o Dpkg::Options::=--force-confdef \
      -o Dpkg::Options::=--force-confold postgresql >&2
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

running() {
  local bin
  bin=$(find_bin) || return 1
  [ -f "$PGDATA_DIR/postmaster.pid" ] && as_pg "$bin/pg_ctl -D $PGDATA_DIR status" >/dev/null 2>&1
}

ensure_probe_rule() {
  # Idempotent, also for a cluster started by an older version of this script.
  local hba="$PGDATA_DIR/pg_hba.conf"
  if ! grep -qxF "$PROBE_RULE" "$hba"; then
    { echo "$PROBE_RULE"; cat "$hba"; } >"$hba.new"
    cat "$hba.new" >"$hba" && rm -f "$hba.new"
    if running; then as_pg "$(find_bin)/pg_ctl -D $PGDATA_DIR reload" >/dev/null; fi
  fi
}

case "${1:-}" in
  status)
    running
    ;;
  start)
    ensure_installed
    BIN=$(find_bin)
    if running; then
      ensure_probe_rule
      echo "postgresql+psycopg://postgres@127.0.0.1:$PGPORT/postgres"
      exit 0
    fi
    rm -rf "$PGDATA_DIR"
    mkdir -p "$PGDATA_DIR"
    [ "$(id -u)" = 0 ] && chown postgres "$PGDATA_DIR"
    as_pg "$BIN/initdb -D $PGDATA_DIR -U postgres --auth=trust -E UTF8 --locale=C.UTF-8" >/dev/null
    ensure_probe_rule
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
    echo "usage: .ci/pg.sh start|status|stop" >&2
    exit 2
    ;;
esac
