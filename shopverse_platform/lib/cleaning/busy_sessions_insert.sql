-- The affected sessions, re-aggregated, that are busy now (see busy_sessions_full.sql).
INSERT INTO busy_sessions BY NAME
SELECT session_id, anonymous_id, user_id, session_start, session_end, session_date, events
FROM sessions WHERE session_id IN (SELECT session_id FROM _sessions_affected) AND events >= $busy_min_events
