#!/usr/bin/env bash
# First start of the compose PostgreSQL (run by the image's entrypoint from
# /docker-entrypoint-initdb.d when the data volume is empty): one role and one database each for
# Dagster's storage, MLflow's backend store, Marquez and the warehouse's DuckLake catalog, each
# database owned by its own role.
# Idempotent, and it only uses psql, so the tests run it against the local PostgreSQL too.
set -euo pipefail

create_role_and_database() {
    local db="$1" user="$2" password="$3"
    [[ -n "$password" ]] || { echo "init-databases: empty password for role $user" >&2; exit 1; }
    psql -v ON_ERROR_STOP=1 --username "${POSTGRES_USER:-postgres}" --dbname postgres \
         -v db="$db" -v user="$user" -v password="$password" <<'SQL'
SELECT format('CREATE ROLE %I LOGIN PASSWORD %L', :'user', :'password')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'user') \gexec
SELECT format('CREATE DATABASE %I OWNER %I', :'db', :'user')
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db') \gexec
SELECT format('REVOKE ALL ON DATABASE %I FROM PUBLIC', :'db') \gexec
SQL
    echo "init-databases: database $db owned by role $user"
}

create_role_and_database "$DAGSTER_PG_DB" "$DAGSTER_PG_USER" "$DAGSTER_PG_PASSWORD"
create_role_and_database "$MLFLOW_PG_DB" "$MLFLOW_PG_USER" "$MLFLOW_PG_PASSWORD"
create_role_and_database "$MARQUEZ_DB" "$MARQUEZ_DB_USER" "$MARQUEZ_DB_PASSWORD"
create_role_and_database "$SHOPVERSE_LAKE_PG_DB" "$SHOPVERSE_LAKE_PG_USER" "$SHOPVERSE_LAKE_PG_PASSWORD"
