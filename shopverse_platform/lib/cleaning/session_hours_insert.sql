-- The affected hours counted again over every session starting in them. $first and $last (the
-- first and last affected hour) are bound as constants so DuckDB skips the row groups of sessions
-- outside them (zone maps on session_start): a read of the changed days, not of the history.
INSERT INTO session_hours
SELECT date_trunc('hour', session_start) AS hour_ts, count(*) AS sessions,
       count(*) FILTER (WHERE NOT is_bot) AS human_sessions
FROM sessions
WHERE session_start >= $first AND session_start < $last + INTERVAL 1 HOUR
  AND date_trunc('hour', session_start) IN (SELECT hour_ts FROM _session_hours_affected)
GROUP BY ALL
ORDER BY hour_ts
