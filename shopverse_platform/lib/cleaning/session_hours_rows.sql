-- Sessions started per UTC hour (every session, and those not judged bots) over the sessions spliced
-- in: the rows of session_hours (the sessions table) and of the anomalies' fallback (every session
-- aggregated from the events, lib/metrics/anomalies.py). An hour without a session has no row.
SELECT date_trunc('hour', session_start) AS hour_ts, count(*) AS sessions,
       count(*) FILTER (WHERE NOT is_bot) AS human_sessions
FROM {{sessions}}
GROUP BY ALL
ORDER BY hour_ts
