-- An alert row (Alert.row()); an alert already stored under its id is left as it is.
INSERT OR IGNORE INTO alerts (alert_id, created_at, kind, severity, title, run_id, job_name, assets,
                              partition_key, steps, error, run_url, webhook_status)
VALUES ($alert_id, $created_at, $kind, $severity, $title, $run_id, $job_name, $assets,
        $partition_key, $steps, $error, $run_url, $webhook_status)
