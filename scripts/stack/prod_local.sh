#!/usr/bin/env bash
# The production configuration of docker-compose.yml, run for real without Docker: PostgreSQL
# (scripts/services/postgres.sh), the Dagster instance on PostgreSQL (deploy/dagster.yaml), the code
# location as a gRPC server, dagster-webserver, dagster-daemon, an MLflow server on PostgreSQL and
# Marquez (when its jars are installed or MARQUEZ_URL is set), all as processes on 127.0.0.1.
#
#   scripts/stack/prod_local.sh start     start what is not running, wait until every service is healthy
#   scripts/stack/prod_local.sh stop      stop, by PID, everything that start started
#   scripts/stack/prod_local.sh status    exit 0 when every service runs, 3 otherwise
#
# Environment (defaults avoid the embedded stack's 3000/5000):
#   SHOPVERSE_PROD_HOME                state, logs, PID files, DAGSTER_HOME (default <repo>/.services/prod-local)
#   SHOPVERSE_PROD_WEBSERVER_PORT      Dagster UI (3300)
#   SHOPVERSE_PROD_GRPC_PORT           code location gRPC server (4266)
#   SHOPVERSE_PROD_MLFLOW_PORT         MLflow server (5055)
#   SHOPVERSE_PROD_MARQUEZ_PORT / _ADMIN_PORT   Marquez API and admin (5100 / 5101)
#   DAGSTER_MAX_CONCURRENT_RUNS        run queue limit (4: the DuckLake warehouse admits concurrent runs)
#   SHOPVERSE_PROD_CELERY_WORKERS      compose's celery profile: a Redis broker and this many Celery step workers (0)
#   SHOPVERSE_PROD_REDIS_PORT          the broker's port (6390; redis-server from scripts/services/install.sh redis)
#   DAGSTER_PG_DB / MLFLOW_PG_DB       database names (dagster / mlflow; Marquez: MARQUEZ_DB, marquez)
#   MARQUEZ_URL                        use this Marquez instead of starting one
#   SHOPVERSE_PG_PORT, SHOPVERSE_PG_USER, SHOPVERSE_PG_PASSWORD, SHOPVERSE_SERVICES_HOME, MARQUEZ_LIB_DIR
#                                      as for scripts/services/*.sh
# The implementation is shopverse_platform/cli/stack.py and stack_commands.py (the tests use them directly).
set -euo pipefail
cd "$(dirname "$0")/../.."
case "${1:-}" in
  start|stop|status) exec .venv/bin/python -m shopverse_platform.cli.stack_commands prod "$1" ;;
  *) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2 ;;
esac
