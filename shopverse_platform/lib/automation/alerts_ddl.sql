-- One row per alert; insert_alert.sql skips an alert already stored under its id (a replay from
-- the spool). Not a PRIMARY KEY: a DuckLake warehouse has no key constraints (warehouses made
-- before keep theirs, which the insert never trips).
CREATE TABLE IF NOT EXISTS alerts (
    alert_id VARCHAR NOT NULL, created_at TIMESTAMP NOT NULL, kind VARCHAR NOT NULL,
    severity VARCHAR NOT NULL, title VARCHAR NOT NULL, run_id VARCHAR, job_name VARCHAR,
    assets VARCHAR[], partition_key VARCHAR, steps VARCHAR[], error VARCHAR, run_url VARCHAR,
    webhook_status VARCHAR
)
