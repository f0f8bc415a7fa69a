# shellcheck shell=bash
# Shared helpers for scripts/services/*.sh. Source it; do not execute it.
#
# Defines the paths and defaults every service script agrees on:
#   SERVICES_DIR              this directory (scripts/services)
#   REPO_ROOT                 the repository root
#   SHOPVERSE_SERVICES_HOME   state dir for all services (default <repo>/.services)

SERVICES_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SERVICES_DIR/../.." && pwd)"

SHOPVERSE_SERVICES_HOME="${SHOPVERSE_SERVICES_HOME:-$REPO_ROOT/.services}"
# Always work with an absolute path: the value ends up in config files and PID files.
SHOPVERSE_SERVICES_HOME="$(realpath -m -- "$SHOPVERSE_SERVICES_HOME")"
export SHOPVERSE_SERVICES_HOME

_log_prefix="$(basename -- "$0" .sh)"
log()  { printf '[%s] %s\n' "$_log_prefix" "$*" >&2; }
warn() { printf '[%s] WARNING: %s\n' "$_log_prefix" "$*" >&2; }
die()  { printf '[%s] ERROR: %s\n' "$_log_prefix" "$*" >&2; exit 1; }

is_root() { [[ "$(id -u)" -eq 0 ]]; }

# Create the services home, with a .gitignore so the state never shows up in git.
ensure_services_home() {
  mkdir -p -- "$SHOPVERSE_SERVICES_HOME"
  if [[ ! -e "$SHOPVERSE_SERVICES_HOME/.gitignore" ]]; then
    printf '# Runtime state of scripts/services (databases, jars, logs). Never commit.\n*\n' \
      >"$SHOPVERSE_SERVICES_HOME/.gitignore"
  fi
}

# Print the bin dir of the newest PostgreSQL found under /usr/lib/postgresql (Debian layout),
# or $SHOPVERSE_PG_BIN if set. Returns 1 when none is found.
find_pg_bin() {
  if [[ -n "${SHOPVERSE_PG_BIN:-}" ]]; then
    [[ -x "$SHOPVERSE_PG_BIN/pg_ctl" ]] || return 1
    printf '%s\n' "$SHOPVERSE_PG_BIN"
    return 0
  fi
  local d best=""
  # Version-sort the candidates and keep the newest one that has pg_ctl.
  while IFS= read -r d; do
    [[ -x "$d/pg_ctl" ]] && best="$d"
  done < <(compgen -G '/usr/lib/postgresql/*/bin' | sort -V)
  [[ -n "$best" ]] || return 1
  printf '%s\n' "$best"
}

# True when something accepts TCP connections on 127.0.0.1:$1 (no external tools needed).
port_in_use() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# Resident memory of a PID in MiB (empty when the process is gone).
rss_mib() {
  local kb
  kb="$(awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || true)"
  [[ -n "$kb" ]] && printf '%d\n' $(( kb / 1024 ))
}

# True while PID $1 exists and is not a zombie.
pid_alive() {
  local state
  kill -0 "$1" 2>/dev/null || return 1
  state="$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null || true)"
  [[ -n "$state" && "$state" != Z ]]
}

# Wait up to $2 seconds (default 30) for PID $1 to exit. Returns 1 on timeout.
wait_pid_gone() {
  local pid="$1" deadline=$(( SECONDS + ${2:-30} ))
  while pid_alive "$pid"; do
    (( SECONDS < deadline )) || return 1
    sleep 0.2
  done
}
