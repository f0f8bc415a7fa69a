-- An alert row (Alert.row()); an alert already stored under its id is left as it is.
INSERT INTO alerts (alert_id, created_at, kind, severity, title, run_id, job_name, assets,
                    partition_key, steps, error, run_url, webhook_status)
SELECT $alert_id, $created_at, $kind, $severity, $title, $run_id, $job_name, $assets,
       $partition_key, $steps, $error, $run_url, $webhook_status
WHERE NOT EXISTS (SELECT 1 FROM alerts WHERE alert_id = $alert_id)
