-- The affected sessions, re-aggregated, that are busy now (see busy_sessions_full.sql).
INSERT INTO busy_sessions BY NAME
SELECT session_id, anonymous_id, user_id, session_start, session_end, session_date, events
FROM _sessions_recomputed WHERE events >= $busy_min_events
