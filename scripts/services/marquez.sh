#!/usr/bin/env bash
# The Marquez API server (OpenLineage backend) as a plain Java process on 127.0.0.1.
#
#   scripts/services/marquez.sh start     create db 'marquez', render marquez.yml, start java,
#                                         wait until /healthcheck on the admin port is healthy
#   scripts/services/marquez.sh stop      SIGTERM the PID from the PID file, wait, SIGKILL if needed
#   scripts/services/marquez.sh status    exit 0 when running and healthy, 1 running but
#                                         unhealthy, 3 stopped
#
# Needs: scripts/services/install.sh (jars in $MARQUEZ_LIB_DIR) and a running PostgreSQL
# (scripts/services/postgres.sh start).
#
# Environment:
#   SHOPVERSE_SERVICES_HOME  state dir (default <repo>/.services); Marquez files in ./marquez:
#                            marquez.yml, marquez.pid, marquez.log
#   MARQUEZ_PORT             API port on 127.0.0.1 (default 5000)
#   MARQUEZ_ADMIN_PORT       admin port on 127.0.0.1, /healthcheck and /metrics (default 5001)
#   MARQUEZ_DB               database name (default marquez)
#   MARQUEZ_LIB_DIR          jar dir (default $SHOPVERSE_SERVICES_HOME/marquez/lib)
#   MARQUEZ_JAVA_OPTS        JVM options (default "-Xms64m -Xmx512m")
#   MARQUEZ_LOG_LEVEL        Marquez log level (default INFO)
#   MARQUEZ_START_TIMEOUT    seconds to wait for a healthy server (default 120)
#   SHOPVERSE_PG_PORT, SHOPVERSE_PG_USER, SHOPVERSE_PG_PASSWORD   as for postgres.sh
set -euo pipefail

# shellcheck source=_common.sh
source "$(dirname "${BASH_SOURCE[0]}")/_common.sh"

MARQUEZ_HOME="$SHOPVERSE_SERVICES_HOME/marquez"
MARQUEZ_LIB_DIR="${MARQUEZ_LIB_DIR:-$MARQUEZ_HOME/lib}"
MARQUEZ_PORT="${MARQUEZ_PORT:-5000}"
MARQUEZ_ADMIN_PORT="${MARQUEZ_ADMIN_PORT:-5001}"
MARQUEZ_DB="${MARQUEZ_DB:-marquez}"
MARQUEZ_JAVA_OPTS="${MARQUEZ_JAVA_OPTS:--Xms64m -Xmx512m}"
MARQUEZ_LOG_LEVEL="${MARQUEZ_LOG_LEVEL:-INFO}"
MARQUEZ_START_TIMEOUT="${MARQUEZ_START_TIMEOUT:-120}"
PG_PORT="${SHOPVERSE_PG_PORT:-55432}"
PG_USER="${SHOPVERSE_PG_USER:-shopverse}"
PG_PASSWORD="${SHOPVERSE_PG_PASSWORD:-shopverse}"

CONF="$MARQUEZ_HOME/marquez.yml"
PID_FILE="$MARQUEZ_HOME/marquez.pid"
LOG_FILE="$MARQUEZ_HOME/marquez.log"
TEMPLATE="$SERVICES_DIR/marquez/marquez.yml.template"
POSTGRES_SH="$SERVICES_DIR/postgres.sh"
HEALTH_URL="http://127.0.0.1:$MARQUEZ_ADMIN_PORT/healthcheck"

for p in MARQUEZ_PORT MARQUEZ_ADMIN_PORT PG_PORT MARQUEZ_START_TIMEOUT; do
  [[ "${!p}" =~ ^[0-9]+$ ]] || die "$p must be a number, got '${!p}'"
done

# PID from the PID file, only if that process is alive and really is Marquez.
marquez_pid() {
  local pid
  [[ -f "$PID_FILE" ]] || return 1
  pid="$(tr -dc '0-9' <"$PID_FILE")"
  [[ -n "$pid" ]] && pid_alive "$pid" || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q 'marquez.MarquezApp' || return 1
  printf '%s\n' "$pid"
}

# 0 when the admin healthcheck answers 200 and reports nothing unhealthy.
healthy() {
  local body
  body="$(curl -fsS --max-time 5 "$HEALTH_URL" 2>/dev/null)" || return 1
  [[ "$body" != *'"healthy":false'* ]]
}

log_tail() {
  log "last lines of $LOG_FILE:"
  tail -n "${1:-60}" "$LOG_FILE" >&2 2>/dev/null || true
}

# Escape a value for a single-quoted YAML scalar.
yaml_sq() { printf '%s' "${1//\'/\'\'}"; }

render_config() {
  [[ -f "$TEMPLATE" ]] || die "template missing: $TEMPLATE"
  local text
  text="$(<"$TEMPLATE")"
  shopt -u patsub_replacement 2>/dev/null || true   # bash 5.2: '&' in a replacement is literal
  text="${text//@MARQUEZ_PORT@/"$MARQUEZ_PORT"}"
  text="${text//@MARQUEZ_ADMIN_PORT@/"$MARQUEZ_ADMIN_PORT"}"
  text="${text//@DB_URL@/"$(yaml_sq "jdbc:postgresql://127.0.0.1:$PG_PORT/$MARQUEZ_DB")"}"
  text="${text//@DB_USER@/"$(yaml_sq "$PG_USER")"}"
  text="${text//@DB_PASSWORD@/"$(yaml_sq "$PG_PASSWORD")"}"
  text="${text//@MARQUEZ_LOG_LEVEL@/"$MARQUEZ_LOG_LEVEL"}"
  if [[ "$text" =~ @[A-Z_]+@ ]]; then die "unrendered placeholder ${BASH_REMATCH[0]} in $TEMPLATE"; fi
  (umask 077 && printf '%s\n' "$text" >"$CONF.tmp")   # holds the DB password
  mv -f -- "$CONF.tmp" "$CONF"
}

cmd_start() {
  local pid
  if pid="$(marquez_pid)"; then
    if healthy; then
      log "already running (pid $pid), API http://127.0.0.1:$MARQUEZ_PORT"
      return 0
    fi
    die "already running (pid $pid) but $HEALTH_URL is not healthy; see $LOG_FILE or run marquez.sh stop"
  fi
  rm -f -- "$PID_FILE"

  compgen -G "$MARQUEZ_LIB_DIR/marquez-api-*.jar" >/dev/null \
    || die "no marquez-api jar in $MARQUEZ_LIB_DIR: run scripts/services/install.sh marquez"
  command -v java >/dev/null || die "java not found: run scripts/services/install.sh marquez"
  command -v curl >/dev/null || die "curl not found: run scripts/services/install.sh marquez"
  "$POSTGRES_SH" status >/dev/null \
    || die "PostgreSQL is not running: scripts/services/postgres.sh start"
  "$POSTGRES_SH" createdb "$MARQUEZ_DB"

  local port
  for port in "$MARQUEZ_PORT" "$MARQUEZ_ADMIN_PORT"; do
    if port_in_use "$port"; then
      die "127.0.0.1:$port is already in use; set MARQUEZ_PORT / MARQUEZ_ADMIN_PORT to free ports"
    fi
  done

  mkdir -p -- "$MARQUEZ_HOME"
  render_config
  local version
  version="$(sed -n 's/^marquez-api=//p' "$MARQUEZ_LIB_DIR/.resolved" 2>/dev/null || true)"
  log "starting Marquez ${version:-?} (API 127.0.0.1:$MARQUEZ_PORT, admin 127.0.0.1:$MARQUEZ_ADMIN_PORT, db $MARQUEZ_DB on 127.0.0.1:$PG_PORT)"
  printf '\n===== %s marquez.sh start\n' "$(date -u +%FT%TZ)" >>"$LOG_FILE"

  local t0=$SECONDS
  # set -m: the JVM gets its own process group, so a Ctrl-C or the end of the calling shell
  # does not reach it; nohup: it survives SIGHUP. It is stopped by PID (marquez.sh stop).
  set -m
  # shellcheck disable=SC2086  # MARQUEZ_JAVA_OPTS is deliberately word-split
  (cd "$MARQUEZ_HOME" && exec nohup java $MARQUEZ_JAVA_OPTS -Duser.timezone=UTC \
      -cp "$MARQUEZ_LIB_DIR/*" marquez.MarquezApp server "$CONF") >>"$LOG_FILE" 2>&1 </dev/null &
  pid=$!
  set +m
  echo "$pid" >"$PID_FILE"

  local deadline=$(( SECONDS + MARQUEZ_START_TIMEOUT ))
  until healthy; do
    if ! pid_alive "$pid"; then
      rm -f -- "$PID_FILE"
      log_tail 80
      die "Marquez exited during startup (pid $pid); full log: $LOG_FILE"
    fi
    if (( SECONDS >= deadline )); then
      log_tail 80
      kill -TERM "$pid" 2>/dev/null || true
      wait_pid_gone "$pid" 20 || kill -KILL "$pid" 2>/dev/null || true
      rm -f -- "$PID_FILE"
      die "Marquez was not healthy within ${MARQUEZ_START_TIMEOUT}s ($HEALTH_URL); stopped it. Full log: $LOG_FILE"
    fi
    sleep 1
  done
  log "healthy in $(( SECONDS - t0 )) s: pid $pid, rss $(rss_mib "$pid") MiB, API http://127.0.0.1:$MARQUEZ_PORT/api/v1, log $LOG_FILE"
}

cmd_stop() {
  local pid
  if ! pid="$(marquez_pid)"; then
    rm -f -- "$PID_FILE"
    log "not running"
    return 0
  fi
  log "stopping Marquez (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  if ! wait_pid_gone "$pid" "${MARQUEZ_STOP_TIMEOUT:-45}"; then
    warn "pid $pid did not exit after SIGTERM; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    wait_pid_gone "$pid" 10 || die "pid $pid is still alive after SIGKILL"
  fi
  rm -f -- "$PID_FILE"
  log "stopped"
}

cmd_status() {
  local pid
  if ! pid="$(marquez_pid)"; then
    echo "marquez: stopped"
    return 3
  fi
  if healthy; then
    echo "marquez: running, healthy, pid $pid, rss $(rss_mib "$pid") MiB, API http://127.0.0.1:$MARQUEZ_PORT, admin http://127.0.0.1:$MARQUEZ_ADMIN_PORT, log $LOG_FILE"
    return 0
  fi
  echo "marquez: running but NOT healthy, pid $pid ($HEALTH_URL), log $LOG_FILE"
  return 1
}

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }

case "${1:-}" in
  start)  cmd_start ;;
  stop)   cmd_stop ;;
  status) cmd_status ;;
  -h|--help|help) usage ;;
  *) usage >&2; exit 2 ;;
esac
