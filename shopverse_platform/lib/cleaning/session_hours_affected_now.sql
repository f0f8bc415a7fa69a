-- The hours the affected sessions start in now (see session_hours_affected.sql).
INSERT INTO _session_hours_affected
SELECT DISTINCT date_trunc('hour', session_start)
FROM sessions WHERE session_id IN (SELECT session_id FROM _sessions_affected)
EXCEPT SELECT hour_ts FROM _session_hours_affected
