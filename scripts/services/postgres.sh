#!/usr/bin/env bash
# A private PostgreSQL cluster for ShopVerse, run as a plain process on 127.0.0.1.
#
#   scripts/services/postgres.sh start            initdb on first use, start, wait until ready
#   scripts/services/postgres.sh stop             pg_ctl stop -m fast (by the PID in postmaster.pid)
#   scripts/services/postgres.sh status           exit 0 when running, 3 when stopped
#   scripts/services/postgres.sh createdb NAME    create database NAME unless it exists
#   scripts/services/postgres.sh url [NAME]       print postgresql://user:pw@127.0.0.1:port/NAME
#   scripts/services/postgres.sh psql [ARGS...]   psql connected to the cluster (db 'postgres')
#   scripts/services/postgres.sh destroy          delete the (stopped) cluster and its data
#
# Environment:
#   SHOPVERSE_SERVICES_HOME  state dir (default <repo>/.services); the cluster lives in
#                            $SHOPVERSE_SERVICES_HOME/postgres/{data,postgres.log}
#   SHOPVERSE_PG_PORT        TCP port on 127.0.0.1 (default 55432)
#   SHOPVERSE_PG_USER        superuser role created by initdb (default shopverse)
#   SHOPVERSE_PG_PASSWORD    its password (default shopverse); fixed at initdb time
#   SHOPVERSE_PG_HOME        put the cluster here instead of $SHOPVERSE_SERVICES_HOME/postgres
#   SHOPVERSE_PG_BIN         PostgreSQL bin dir (default: newest /usr/lib/postgresql/*/bin)
#   SHOPVERSE_PG_OS_USER     OS user that runs the server when invoked as root (default postgres)
#
# PostgreSQL refuses to run as root. As root, the server runs as the 'postgres' OS user
# (runuser -u postgres --); as any other user, it runs as that user. When the 'postgres' user
# cannot reach $SHOPVERSE_SERVICES_HOME (e.g. a repo under a mode-700 /tmp/tmp.XXXX or /root),
# the cluster goes to /var/lib/shopverse-services/<hash>/postgres instead and
# $SHOPVERSE_SERVICES_HOME/postgres becomes a symlink to it.
set -euo pipefail

# shellcheck source=_common.sh
source "$(dirname "${BASH_SOURCE[0]}")/_common.sh"

PG_PORT="${SHOPVERSE_PG_PORT:-55432}"
PG_USER="${SHOPVERSE_PG_USER:-shopverse}"
PG_PASSWORD="${SHOPVERSE_PG_PASSWORD:-shopverse}"
PG_OS_USER="${SHOPVERSE_PG_OS_USER:-postgres}"
PG_START_TIMEOUT="${SHOPVERSE_PG_START_TIMEOUT:-60}"
PG_LINK="$SHOPVERSE_SERVICES_HOME/postgres"

[[ "$PG_PORT" =~ ^[0-9]+$ ]] || die "SHOPVERSE_PG_PORT must be a number, got '$PG_PORT'"

pg_bin() {
  PG_BIN="$(find_pg_bin)" || die "PostgreSQL not found under /usr/lib/postgresql/*/bin: run scripts/services/install.sh postgres"
}

# Run a command as the OS user that owns the cluster.
# Runs from / so that a working directory the server's user cannot read does not get in the way.
as_pg() {
  if is_root; then
    (cd / && runuser -u "$PG_OS_USER" -- "$@")
  else
    "$@"
  fi
}

# Can the server's OS user create files in (and therefore traverse every parent of) dir $1?
pg_user_can_use() {
  as_pg test -d "$1" -a -w "$1" -a -x "$1" 2>/dev/null
}

# Decide where the cluster lives; sets PG_HOME, PG_DATA, PG_LOG. Creates PG_HOME when $1 == create.
resolve_pg_home() {
  local create="${1:-}"
  if [[ -n "${SHOPVERSE_PG_HOME:-}" ]]; then
    PG_HOME="$(realpath -m -- "$SHOPVERSE_PG_HOME")"
  elif [[ -L "$PG_LINK" ]]; then
    PG_HOME="$(readlink -f -- "$PG_LINK")"           # relocated earlier (see below)
  else
    PG_HOME="$PG_LINK"
  fi

  if [[ "$create" == create && ! -d "$PG_HOME/data" ]]; then
    if is_root; then
      id "$PG_OS_USER" >/dev/null 2>&1 \
        || die "OS user '$PG_OS_USER' does not exist (it comes with Debian's postgresql package: run install.sh postgres)"
      mkdir -p -- "$PG_HOME"
      chown "$PG_OS_USER:" -- "$PG_HOME"
      chmod 700 -- "$PG_HOME"
      if ! pg_user_can_use "$PG_HOME"; then
        if [[ -n "${SHOPVERSE_PG_HOME:-}" ]]; then
          die "OS user '$PG_OS_USER' cannot reach SHOPVERSE_PG_HOME=$PG_HOME (a parent directory is not searchable); choose another path"
        fi
        # A parent dir is not searchable by 'postgres' (mode 700 temp dirs, /root, ...). Rather
        # than chmod directories we do not own, keep the cluster in a system location and leave
        # a symlink behind so that $SHOPVERSE_SERVICES_HOME/postgres still shows where it is.
        local key
        key="$(printf '%s' "$SHOPVERSE_SERVICES_HOME" | sha256sum | cut -c1-12)"
        local alt="/var/lib/shopverse-services/$key/postgres"
        log "OS user '$PG_OS_USER' cannot reach $PG_HOME (a parent directory is not searchable);"
        log "keeping the cluster in $alt (symlinked from $PG_LINK)"
        rmdir -- "$PG_HOME"
        mkdir -p -- "$alt"
        chmod 755 -- "/var/lib/shopverse-services" "/var/lib/shopverse-services/$key"
        chown "$PG_OS_USER:" -- "$alt"
        chmod 700 -- "$alt"
        ln -sfn -- "$alt" "$PG_LINK"
        printf '%s\n' "$SHOPVERSE_SERVICES_HOME" >"/var/lib/shopverse-services/$key/OWNER"
        PG_HOME="$alt"
        pg_user_can_use "$PG_HOME" || die "OS user '$PG_OS_USER' cannot use $PG_HOME either"
      fi
    else
      mkdir -p -- "$PG_HOME"
      chmod 700 -- "$PG_HOME"
    fi
  fi
  PG_DATA="$PG_HOME/data"
  PG_LOG="$PG_HOME/postgres.log"
}

pg_pid() {
  [[ -f "$PG_DATA/postmaster.pid" ]] && head -n1 "$PG_DATA/postmaster.pid" 2>/dev/null || true
}

is_running() {
  [[ -d "$PG_DATA" ]] || return 1
  as_pg "$PG_BIN/pg_ctl" status -D "$PG_DATA" >/dev/null 2>&1
}

# psql over TCP with password auth; extra args are passed through.
run_psql() {
  PGPASSWORD="$PG_PASSWORD" PGCONNECT_TIMEOUT=10 \
    "$PG_BIN/psql" -X -h 127.0.0.1 -p "$PG_PORT" -U "$PG_USER" "$@"
}

do_initdb() {
  log "initdb: new cluster in $PG_DATA (superuser '$PG_USER', scram-sha-256 password auth)"
  local pwfile
  pwfile="$(mktemp "$PG_HOME/.pwfile.XXXXXX")"
  # shellcheck disable=SC2064
  trap "rm -f -- '$pwfile'" EXIT
  printf '%s\n' "$PG_PASSWORD" >"$pwfile"
  is_root && chown "$PG_OS_USER:" -- "$pwfile"
  local initlog="$PG_HOME/initdb.log"
  if ! as_pg "$PG_BIN/initdb" -D "$PG_DATA" --username="$PG_USER" --pwfile="$pwfile" \
       --auth=scram-sha-256 --encoding=UTF8 --no-locale >"$initlog" 2>&1; then
    cat "$initlog" >&2
    rm -rf -- "$PG_DATA"
    die "initdb failed (output above)"
  fi
  rm -f -- "$pwfile"
  trap - EXIT
}

cmd_start() {
  pg_bin
  ensure_services_home
  resolve_pg_home create
  if [[ -d "$PG_DATA" ]] && ! pg_user_can_use "$PG_DATA"; then
    local who="$PG_OS_USER"
    is_root || who="$(id -un)"
    die "$PG_DATA exists but the server's OS user ($who) cannot use it; fix its owner or remove it"
  fi
  if is_running; then
    local actual
    actual="$(sed -n 4p "$PG_DATA/postmaster.pid" 2>/dev/null || true)"
    if [[ -n "$actual" && "$actual" != "$PG_PORT" ]]; then
      die "already running (pid $(pg_pid)) but on port $actual, not $PG_PORT: stop it first"
    fi
    log "already running (pid $(pg_pid)) on 127.0.0.1:$PG_PORT, data $PG_DATA"
    return 0
  fi
  [[ -f "$PG_DATA/PG_VERSION" ]] || do_initdb
  if port_in_use "$PG_PORT"; then
    die "127.0.0.1:$PG_PORT is already in use by another process; set SHOPVERSE_PG_PORT to a free port"
  fi

  log "starting PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$PG_PORT (log: $PG_LOG)"
  local t0=$SECONDS
  # Settings given on the command line so that a changed port applies on the next start.
  # No Unix socket: TCP on 127.0.0.1 only, which also avoids /var/run/postgresql permissions.
  local opts="-c listen_addresses=127.0.0.1 -c port=$PG_PORT -c unix_socket_directories='' -c logging_collector=off"
  if ! as_pg "$PG_BIN/pg_ctl" start -D "$PG_DATA" -l "$PG_LOG" -o "$opts" -w -t "$PG_START_TIMEOUT" >/dev/null; then
    log "pg_ctl start failed; last lines of $PG_LOG:"
    tail -n 30 "$PG_LOG" >&2 || true
    exit 1
  fi
  local deadline=$(( SECONDS + PG_START_TIMEOUT ))
  until "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT"; do
    if (( SECONDS >= deadline )); then
      tail -n 30 "$PG_LOG" >&2 || true
      die "PostgreSQL did not become ready within ${PG_START_TIMEOUT}s"
    fi
    sleep 0.2
  done
  # Check that the configured credentials work (the password is fixed at initdb time).
  if ! run_psql -d postgres -tAc 'select 1' >/dev/null 2>"$PG_HOME/.auth-check"; then
    cat "$PG_HOME/.auth-check" >&2
    die "server is up but '$PG_USER' cannot log in with SHOPVERSE_PG_PASSWORD (the password was set when the cluster was created; remove $PG_DATA to re-create it)"
  fi
  rm -f -- "$PG_HOME/.auth-check"
  log "ready in $(( SECONDS - t0 )) s: pid $(pg_pid), postgresql://$PG_USER:***@127.0.0.1:$PG_PORT/postgres"
}

cmd_stop() {
  pg_bin
  resolve_pg_home
  if ! is_running; then
    log "not running"
    return 0
  fi
  local pid
  pid="$(pg_pid)"
  log "stopping PostgreSQL (pid $pid)"
  if ! as_pg "$PG_BIN/pg_ctl" stop -D "$PG_DATA" -m fast -w -t 60 >/dev/null; then
    warn "fast shutdown did not finish in 60 s; trying immediate shutdown"
    as_pg "$PG_BIN/pg_ctl" stop -D "$PG_DATA" -m immediate -w -t 30 >/dev/null || true
  fi
  # pg_ctl -w returns once postmaster.pid is gone; the process itself exits a moment later.
  if [[ -n "$pid" ]] && ! wait_pid_gone "$pid" 30; then
    die "PostgreSQL (pid $pid) is still running"
  fi
  log "stopped"
}

cmd_status() {
  pg_bin
  resolve_pg_home
  if is_running; then
    local pid
    pid="$(pg_pid)"
    echo "postgres: running, pid $pid, 127.0.0.1:$PG_PORT, rss $(rss_mib "$pid") MiB (postmaster only), data $PG_DATA, log $PG_LOG"
    return 0
  fi
  echo "postgres: stopped (data ${PG_DATA}$([[ -d "$PG_DATA" ]] || echo ', not initialised'))"
  return 3
}

require_running() {
  pg_bin
  resolve_pg_home
  is_running || die "PostgreSQL is not running: scripts/services/postgres.sh start"
}

cmd_createdb() {
  local name="${1:-}"
  [[ -n "$name" ]] || die "usage: postgres.sh createdb NAME"
  require_running
  local out
  # \gexec runs the CREATE only when the SELECT returns a row, i.e. when the db is missing.
  out="$(run_psql -d postgres -v ON_ERROR_STOP=1 -v "dbname=$name" <<'SQL'
SELECT format('CREATE DATABASE %I', :'dbname')
 WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'dbname') \gexec
SQL
)" || die "could not create database '$name'"
  if [[ "$out" == *"CREATE DATABASE"* ]]; then log "created database '$name'"; else log "database '$name' exists"; fi
}

cmd_destroy() {
  pg_bin
  resolve_pg_home
  if is_running; then die "PostgreSQL is running: stop it first"; fi
  # Remove only what this script creates, never the whole directory tree blindly.
  rm -rf -- "$PG_DATA"
  rm -f -- "$PG_LOG" "$PG_HOME/initdb.log"
  rmdir -- "$PG_HOME" 2>/dev/null || true
  if [[ -L "$PG_LINK" ]]; then                  # relocated cluster: drop the symlink and key dir
    local keydir
    keydir="$(dirname -- "$PG_HOME")"
    rm -f -- "$keydir/OWNER"
    rmdir -- "$keydir" 2>/dev/null || true
    rmdir -- "$(dirname -- "$keydir")" 2>/dev/null || true
    rm -f -- "$PG_LINK"
  fi
  log "removed the cluster in $PG_HOME"
}

cmd_url() {
  local name="${1:-postgres}"
  # Percent-encode the password for use in a URL.
  local enc
  enc="$(printf '%s' "$PG_PASSWORD" | od -An -tx1 -v | tr -d ' \n' | sed 's/../%&/g')"
  if [[ "$PG_PASSWORD" =~ ^[A-Za-z0-9._~-]*$ ]]; then enc="$PG_PASSWORD"; fi
  echo "postgresql://$PG_USER:$enc@127.0.0.1:$PG_PORT/$name"
}

cmd_psql() {
  require_running
  run_psql -d postgres "$@"
}

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }

case "${1:-}" in
  start)    cmd_start ;;
  stop)     cmd_stop ;;
  status)   cmd_status ;;
  createdb) shift; cmd_createdb "$@" ;;
  url)      shift; cmd_url "$@" ;;
  psql)     shift; cmd_psql "$@" ;;
  destroy)  cmd_destroy ;;
  -h|--help|help) usage ;;
  *) usage >&2; exit 2 ;;
esac
