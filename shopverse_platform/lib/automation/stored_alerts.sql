-- Every stored alert, newest first.
SELECT alert_id, created_at, kind, severity, title, run_id, job_name, assets, partition_key, steps, error,
       run_url, webhook_status
FROM alerts ORDER BY created_at DESC
