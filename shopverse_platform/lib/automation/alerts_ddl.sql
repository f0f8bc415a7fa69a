-- One row per alert; the key makes a replayed alert (from the spool) an ignored insert.
CREATE TABLE IF NOT EXISTS alerts (
    alert_id VARCHAR PRIMARY KEY, created_at TIMESTAMP NOT NULL, kind VARCHAR NOT NULL,
    severity VARCHAR NOT NULL, title VARCHAR NOT NULL, run_id VARCHAR, job_name VARCHAR,
    assets VARCHAR[], partition_key VARCHAR, steps VARCHAR[], error VARCHAR, run_url VARCHAR,
    webhook_status VARCHAR
)
