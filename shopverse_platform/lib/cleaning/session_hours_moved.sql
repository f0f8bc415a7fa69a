-- session_hours moved by the affected sessions: their part at the last build taken back (the rows
-- kept before the delete, _sessions_removed) and their part now added (_sessions_recomputed); an hour
-- left without a session loses its row. Reads the affected sessions and their hours only.
CREATE OR REPLACE TEMP TABLE _session_hours_moved AS
WITH delta AS (
    SELECT date_trunc('hour', session_start) AS hour_ts, -1 AS sessions, CASE WHEN is_bot THEN 0 ELSE -1 END AS human_sessions
    FROM _sessions_removed
    UNION ALL
    SELECT date_trunc('hour', session_start), 1, CASE WHEN is_bot THEN 0 ELSE 1 END FROM _sessions_recomputed
),
moved AS (SELECT hour_ts, sum(sessions) AS sessions, sum(human_sessions) AS human_sessions FROM delta GROUP BY hour_ts)
SELECT m.hour_ts, coalesce(h.sessions, 0) + m.sessions AS sessions,
       coalesce(h.human_sessions, 0) + m.human_sessions AS human_sessions
FROM moved m LEFT JOIN session_hours h USING (hour_ts)
