-- Sessions started per UTC hour (every session, and those not judged bots), over every session: the
-- running aggregate the hourly traffic anomalies read instead of the sessions (lib/metrics/anomalies.py).
-- An hour without a session has no row.
CREATE OR REPLACE TABLE session_hours AS
SELECT date_trunc('hour', session_start) AS hour_ts, count(*) AS sessions,
       count(*) FILTER (WHERE NOT is_bot) AS human_sessions
FROM sessions
GROUP BY ALL
ORDER BY hour_ts
