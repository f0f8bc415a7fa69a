-- The hours the affected sessions start in (before they are deleted: where they started at the last
-- build); session_hours_affected_now.sql adds where they start now, once re-aggregated.
CREATE OR REPLACE TEMP TABLE _session_hours_affected AS
SELECT DISTINCT date_trunc('hour', session_start) AS hour_ts
FROM sessions WHERE session_id IN (SELECT session_id FROM _sessions_affected)
