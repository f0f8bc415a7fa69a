#!/usr/bin/env bash
# Install everything the local services need, idempotently.
#
#   scripts/services/install.sh [all|postgres|redis|marquez|seaweedfs]     (default: all)
#
#   postgres  apt-get installs Debian's PostgreSQL (15 on bookworm) when no pg_ctl is found
#             under /usr/lib/postgresql/*/bin.
#   redis     apt-get installs Debian's redis-server (the Celery broker of the step workers,
#             docs/scaling.md) when none is on the PATH.
#   marquez   apt-get installs a Java 17 runtime, Maven and curl when missing, then resolves
#             io.github.marquezproject:marquez-api and all its runtime dependencies with
#             scripts/services/marquez/pom.xml into $MARQUEZ_LIB_DIR. Skipped when that
#             directory already holds a complete resolve of the wanted version.
#   seaweedfs SeaweedFS's `weed` (an S3-compatible object store, Apache-2.0: the object-storage
#             lake tests' S3 server) built with the machine's Go from the Go module proxy, at the
#             pinned version, into $SEAWEEDFS_HOME/bin. About 4 min and 2 GB of modules once;
#             skipped when that binary is already the pinned version.
#
# Environment:
#   SHOPVERSE_SERVICES_HOME  state dir (default <repo>/.services)
#   MARQUEZ_VERSION          exact marquez-api version; default: first that resolves of
#                            $MARQUEZ_VERSION_CANDIDATES ("0.51.1 0.51.0 0.50.0")
#   MARQUEZ_LIB_DIR          jar cache (default $SHOPVERSE_SERVICES_HOME/marquez/lib)
#   MARQUEZ_MAVEN_REPO       extra Maven repository URL (https:// or file://) searched next to
#                            Maven Central, e.g. an internal mirror that serves marquez-api
#   SHOPVERSE_M2_REPO        Maven local repository (default $SHOPVERSE_SERVICES_HOME/marquez/m2)
#   MAVEN_EXTRA_ARGS         extra arguments for mvn (e.g. "-s /path/settings.xml")
#   SEAWEEDFS_HOME           where weed is built (default $SHOPVERSE_SERVICES_HOME/seaweedfs)
set -euo pipefail

# shellcheck source=_common.sh
source "$(dirname "${BASH_SOURCE[0]}")/_common.sh"

COMPONENT="${1:-all}"
case "$COMPONENT" in
  all|postgres|redis|marquez|seaweedfs) ;;
  -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
  *) die "unknown component '$COMPONENT' (expected all, postgres, redis, marquez or seaweedfs)" ;;
esac

MARQUEZ_HOME="$SHOPVERSE_SERVICES_HOME/marquez"
MARQUEZ_LIB_DIR="${MARQUEZ_LIB_DIR:-$MARQUEZ_HOME/lib}"
SHOPVERSE_M2_REPO="${SHOPVERSE_M2_REPO:-$MARQUEZ_HOME/m2}"
MARQUEZ_VERSION_CANDIDATES="${MARQUEZ_VERSION_CANDIDATES:-0.51.1 0.51.0 0.50.0}"
MARQUEZ_MAVEN_REPO="${MARQUEZ_MAVEN_REPO:-}"
POM="$SERVICES_DIR/marquez/pom.xml"
SEAWEEDFS_HOME="${SEAWEEDFS_HOME:-$SHOPVERSE_SERVICES_HOME/seaweedfs}"
# A pseudo-version: the module publishes no semver tags the proxy lists (its `weed version`: 4.53).
SEAWEEDFS_MODULE="github.com/seaweedfs/seaweedfs"
SEAWEEDFS_VERSION="v0.0.0-20261109003541-7506e5f91cd6"

# ---------------------------------------------------------------------------- apt packages
APT_UPDATED=0
apt_install() {
  (( $# )) || return 0
  is_root || die "need root to apt-get install: $* (run this script with sudo, or install them yourself)"
  command -v apt-get >/dev/null || die "apt-get not found; install by hand: $*"
  export DEBIAN_FRONTEND=noninteractive
  if (( ! APT_UPDATED )); then
    log "apt-get update"
    apt-get update -qq
    APT_UPDATED=1
  fi
  log "apt-get install -y $*"
  apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

java_major() {
  command -v java >/dev/null || { echo 0; return; }
  java -XshowSettings:properties -version 2>&1 \
    | awk -F'= ' '/java.specification.version/ {split($2, v, "."); print (v[1] == 1 ? v[2] : v[1]); exit}'
}

install_redis() {
  if command -v redis-server >/dev/null; then
    log "redis-server present: $(command -v redis-server)"
    return 0
  fi
  apt_install redis-server
  command -v redis-server >/dev/null || die "redis-server still missing after apt-get install"
}

install_postgres() {
  local t0=$SECONDS pg_bin
  if pg_bin="$(find_pg_bin)"; then
    log "PostgreSQL present: $pg_bin ($("$pg_bin/postgres" --version))"
    return 0
  fi
  # Debian's postgresql package creates and starts a 'main' cluster on port 5432. Our private
  # cluster does not need it, so ask postgresql-common not to create it (only when we are the
  # ones installing PostgreSQL, and only if nobody configured this already).
  local drop=/etc/postgresql-common/createcluster.d/00-shopverse-no-main.conf
  if is_root && [[ ! -e /etc/postgresql-common/createcluster.conf && ! -e "$drop" ]]; then
    mkdir -p "$(dirname "$drop")"
    printf '# Written by ShopVerse scripts/services/install.sh: no default cluster on 5432.\ncreate_main_cluster = false\n' >"$drop"
  fi
  apt_install postgresql ca-certificates
  pg_bin="$(find_pg_bin)" || die "apt-get installed postgresql but no pg_ctl under /usr/lib/postgresql/*/bin"
  log "PostgreSQL installed: $pg_bin ($("$pg_bin/postgres" --version)) in $(( SECONDS - t0 )) s"
}

install_marquez_tools() {
  local pkgs=()
  if (( $(java_major) < 17 )); then pkgs+=(openjdk-17-jre-headless); fi
  command -v mvn  >/dev/null || pkgs+=(maven)
  command -v curl >/dev/null || pkgs+=(curl)
  if (( ${#pkgs[@]} )); then
    apt_install ca-certificates "${pkgs[@]}"
  fi
  (( $(java_major) >= 17 )) || die "Java 17+ is required, found: $(java -version 2>&1 | head -1)"
  log "Java $(java_major), $(mvn -v 2>/dev/null | head -1 | sed 's/\x1b\[[0-9;]*m//g'), $(curl --version | head -1 | cut -d' ' -f1-2)"
}

# 0.51.x versions listed in the repositories' maven-metadata.xml, newest first (may be none:
# some Central mirrors serve no metadata for marquez-api).
published_051_versions() {
  local repo
  for repo in ${MARQUEZ_MAVEN_REPO:+"$MARQUEZ_MAVEN_REPO"} https://repo.maven.apache.org/maven2; do
    curl -fsS --max-time 20 "${repo%/}/io/github/marquezproject/marquez-api/maven-metadata.xml" 2>/dev/null \
      | grep -o '<version>0\.51\.[0-9]*</version>' | sed 's/<[^>]*>//g' || true
  done | sort -Vru
}

# Resolve one marquez-api version into directory $2; mvn output goes to $3.
resolve_version() {
  local version="$1" out_dir="$2" mvn_log="$3"
  local args=(-B -q -U -f "$POM" "-Dmaven.repo.local=$SHOPVERSE_M2_REPO" "-Dmarquez.version=$version")
  [[ -n "$MARQUEZ_MAVEN_REPO" ]] && args+=("-Dmarquez.repo.url=$MARQUEZ_MAVEN_REPO")
  # shellcheck disable=SC2206  # MAVEN_EXTRA_ARGS is deliberately word-split
  [[ -n "${MAVEN_EXTRA_ARGS:-}" ]] && args+=(${MAVEN_EXTRA_ARGS})
  local rc=0
  mvn "${args[@]}" dependency:copy-dependencies "-DoutputDirectory=$out_dir" >"$mvn_log" 2>&1 || rc=$?
  sed -i 's/\x1b\[[0-9;]*m//g' "$mvn_log"   # Maven 3.8 colours its output even with -B
  return "$rc"
}

# The useful lines of a failed mvn run (falls back to its tail).
mvn_error_summary() {
  grep -m3 -E '^\[ERROR\] (Failed|Could not|Non-resolvable|.*(not found|Unknown host|timed out))' "$1" \
    || tail -n 8 "$1"
}

install_marquez() {
  install_marquez_tools

  # Already resolved? The marker is written last, after every jar is in place.
  local marker="$MARQUEZ_LIB_DIR/.resolved"
  if [[ -f "$marker" ]]; then
    local have
    have="$(sed -n 's/^marquez-api=//p' "$marker")"
    if [[ -n "$have" && -f "$MARQUEZ_LIB_DIR/marquez-api-$have.jar" ]] \
       && [[ -z "${MARQUEZ_VERSION:-}" || "$MARQUEZ_VERSION" == "$have" ]]; then
      log "Marquez $have already resolved in $MARQUEZ_LIB_DIR ($(find "$MARQUEZ_LIB_DIR" -name '*.jar' | wc -l) jars); skipping"
      return 0
    fi
  fi

  local candidates
  if [[ -n "${MARQUEZ_VERSION:-}" ]]; then
    candidates="$MARQUEZ_VERSION"
  else
    local v list=()
    # shellcheck disable=SC2046  # word-splitting into versions is intended
    for v in $(published_051_versions) $MARQUEZ_VERSION_CANDIDATES; do
      [[ " ${list[*]} " == *" $v "* ]] || list+=("$v")
    done
    candidates="${list[*]}"
  fi

  mkdir -p "$MARQUEZ_HOME" "$SHOPVERSE_M2_REPO" "$(dirname "$MARQUEZ_LIB_DIR")"
  local staging mvn_log version resolved="" t0=$SECONDS
  staging="$(mktemp -d "$(dirname "$MARQUEZ_LIB_DIR")/.lib.tmp.XXXXXX")"
  mvn_log="$MARQUEZ_HOME/install-mvn.log"
  : >"$MARQUEZ_HOME/install-errors.log"
  # shellcheck disable=SC2064
  trap "rm -rf -- '$staging'" EXIT

  for version in $candidates; do
    log "resolving io.github.marquezproject:marquez-api:$version and its runtime dependencies (mvn)..."
    rm -rf -- "${staging:?}"/*
    if resolve_version "$version" "$staging" "$mvn_log" && [[ -f "$staging/marquez-api-$version.jar" ]]; then
      resolved="$version"
      break
    fi
    {
      echo "=== marquez-api:$version"
      mvn_error_summary "$mvn_log"
    } >>"$MARQUEZ_HOME/install-errors.log"
    warn "marquez-api:$version could not be resolved (see below)"
  done

  if [[ -z "$resolved" ]]; then
    log "Maven errors per version (also in $MARQUEZ_HOME/install-errors.log):"
    sed 's/^/    /' "$MARQUEZ_HOME/install-errors.log" >&2
    die "no marquez-api version out of [$candidates] could be resolved from Maven Central${MARQUEZ_MAVEN_REPO:+ or $MARQUEZ_MAVEN_REPO}.
    If this machine's Maven Central mirror does not serve io.github.marquezproject:marquez-api, point
    MARQUEZ_MAVEN_REPO at a repository that does (https:// or file://), or pass a Maven settings file
    with a mirror through MAVEN_EXTRA_ARGS='-s /path/to/settings.xml'."
  fi

  printf 'marquez-api=%s\nresolved_at=%s\n' "$resolved" "$(date -u +%FT%TZ)" >"$staging/.resolved"
  rm -rf -- "${MARQUEZ_LIB_DIR:?}"
  mkdir -p "$(dirname "$MARQUEZ_LIB_DIR")"
  mv -- "$staging" "$MARQUEZ_LIB_DIR"
  chmod 755 -- "$MARQUEZ_LIB_DIR"            # mktemp -d made it 700
  trap - EXIT
  rm -f -- "$MARQUEZ_HOME/install-errors.log"
  log "Marquez $resolved resolved: $(find "$MARQUEZ_LIB_DIR" -name '*.jar' | wc -l) jars, $(du -sh "$MARQUEZ_LIB_DIR" | cut -f1) in $MARQUEZ_LIB_DIR ($(( SECONDS - t0 )) s)"
}

install_seaweedfs() {
  local bin="$SEAWEEDFS_HOME/bin/weed" marker="$SEAWEEDFS_HOME/bin/.version" t0=$SECONDS source_dir
  if [[ -x "$bin" && "$(cat "$marker" 2>/dev/null)" == "$SEAWEEDFS_VERSION" ]]; then
    log "SeaweedFS present: $bin ($("$bin" version 2>/dev/null | head -1))"
    return 0
  fi
  command -v go >/dev/null || die "Go is needed to build SeaweedFS's weed from the Go module proxy (no go on PATH)"
  # `go install module/weed@version` refuses a module whose go.mod has replace directives, as this
  # one's does: download the module, then build its weed package inside it, where they apply.
  log "building $SEAWEEDFS_MODULE/weed@$SEAWEEDFS_VERSION with $(go version | cut -d' ' -f3) (a few minutes once)..."
  mkdir -p "$SEAWEEDFS_HOME/bin"
  local build_log="$SEAWEEDFS_HOME/build.log"
  source_dir="$(go mod download -json "$SEAWEEDFS_MODULE@$SEAWEEDFS_VERSION" 2>"$build_log" \
                | python3 -c 'import json, sys; d = json.load(sys.stdin); sys.exit(d.get("Error", "no module")) if "Dir" not in d else print(d["Dir"])')" \
    || { tail -n 20 "$build_log" >&2; die "could not download $SEAWEEDFS_MODULE@$SEAWEEDFS_VERSION from the Go module proxy ($(go env GOPROXY))"; }
  # its ~400 "go: downloading" lines go to the log, shown when the build fails
  (cd "$source_dir" && go build -mod=mod -buildvcs=false -trimpath -o "$bin.tmp" ./weed) >>"$build_log" 2>&1 \
    || { tail -n 40 "$build_log" >&2; die "go build of $SEAWEEDFS_MODULE/weed failed (log: $build_log)"; }
  mv -f -- "$bin.tmp" "$bin"
  printf '%s\n' "$SEAWEEDFS_VERSION" >"$marker"
  log "SeaweedFS built: $bin ($("$bin" version 2>/dev/null | head -1)) in $(( SECONDS - t0 )) s"
}

T_START=$SECONDS
ensure_services_home
case "$COMPONENT" in
  postgres) install_postgres ;;
  redis)    install_redis ;;
  marquez)  install_marquez ;;
  seaweedfs) install_seaweedfs ;;
  all)      install_postgres; install_redis; install_seaweedfs; install_marquez ;;
esac
log "done ($COMPONENT) in $(( SECONDS - T_START )) s"
