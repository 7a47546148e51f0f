#!/usr/bin/env bash
# A throwaway PostgreSQL cluster on loopback for the store tests. Installs nothing (scripts/setup.sh --pg does).
#   scripts/pg-test-server.sh start    initialise (first time) and start; prints a libpq DSN on stdout
#   scripts/pg-test-server.sh status   prints the DSN when running, exits 1 otherwise
#   scripts/pg-test-server.sh stop     stops the server and deletes the cluster
# The cluster lives in $DISPATCH_PG_TEST_DIR (default: $TMPDIR or /tmp, /dispatch-pg-test-<uid>), listens only on
# 127.0.0.1 on a free port, and trusts local connections: never point it at anything that matters.
# Run as root, the server runs as the `postgres` user (PostgreSQL refuses to run as root) and owns the directory.
# Everything except the DSN goes to stderr.
set -euo pipefail

base="${DISPATCH_PG_TEST_DIR:-${TMPDIR:-/tmp}/dispatch-pg-test-$(id -u)}"
data="$base/data"
db=dispatch_test
superuser=postgres

log() { echo "pg-test-server: $*" >&2; }

find_bin() {
  if [[ -x /usr/lib/postgresql/15/bin/pg_ctl ]]; then
    echo /usr/lib/postgresql/15/bin
    return
  fi
  local found
  found=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  if [[ -n "$found" && -x "$found/pg_ctl" ]]; then
    echo "$found"
    return
  fi
  log "no PostgreSQL server binaries under /usr/lib/postgresql (run scripts/setup.sh --pg)"
  exit 1
}

# Runs a command as the cluster owner: ourselves, or `postgres` when we are root. fd 9 (our lock) is closed for it:
# the server would otherwise inherit the lock and hold it for its whole life.
as_owner() {
  if [[ $(id -u) -ne 0 ]]; then
    "$@" 9>&-
  elif command -v runuser >/dev/null 2>&1; then
    runuser -u postgres -- "$@" 9>&-
  else
    su postgres -s /bin/sh -c "$(printf '%q ' "$@")" 9>&-
  fi
}

dsn() { echo "host=127.0.0.1 port=$(cat "$base/port") user=$superuser dbname=$db"; }

running() { [[ -f "$base/port" && -d "$data" ]] && as_owner "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; }

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

start() {
  if running; then
    dsn
    return
  fi
  if [[ $(id -u) -eq 0 ]] && ! id postgres >/dev/null 2>&1; then
    log "running as root needs a 'postgres' user to own the server (installed with postgresql-15)"
    exit 1
  fi
  [[ -d "$data" ]] && as_owner "$bin/pg_ctl" -D "$data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$base"
  mkdir -p "$base"
  chmod 700 "$base"
  [[ $(id -u) -eq 0 ]] && chown postgres: "$base"

  # --no-sync: a throwaway cluster need not survive a power cut while it is being created.
  as_owner "$bin/initdb" -D "$data" -U "$superuser" -A trust -E UTF8 --locale=C --no-sync >"$base/initdb.log" 2>&1 || {
    log "initdb failed:"; cat "$base/initdb.log" >&2; exit 1; }

  local port=""
  for p in $(seq 54330 54429); do
    if port_free "$p"; then port=$p; break; fi
  done
  [[ -n "$port" ]] || { log "no free port in 54330-54429"; exit 1; }

  # The unix socket goes into our own directory: /var/run/postgresql may not exist or not be ours.
  if ! as_owner "$bin/pg_ctl" -D "$data" -l "$base/server.log" -w -t 60 \
      -o "-c listen_addresses=127.0.0.1 -p $port -k $base -c max_connections=200" start >/dev/null; then
    log "the server did not start:"; tail -n 20 "$base/server.log" >&2 || true; exit 1
  fi
  echo "$port" >"$base/port"
  "$bin/createdb" 9>&- -h 127.0.0.1 -p "$port" -U "$superuser" "$db" >&2
  log "started on 127.0.0.1:$port (data in $data)"
  dsn
}

stop() {
  if [[ -d "$data" ]]; then
    as_owner "$bin/pg_ctl" -D "$data" -m fast -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$base"
  log "stopped"
}

bin=$(find_bin)
cmd="${1:-}"
case "$cmd" in
  start|stop|status) ;;
  *) echo "usage: scripts/pg-test-server.sh start|stop|status" >&2; exit 2 ;;
esac

# One caller at a time: several test runs may start the same cluster at once.
exec 9>"$base.lock"
flock 9

case "$cmd" in
  start) start ;;
  stop) stop ;;
  status) if running; then dsn; else exit 1; fi ;;
esac
