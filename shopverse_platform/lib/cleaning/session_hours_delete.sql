-- The hours the affected sessions moved (session_hours_moved.sql), before their new counts go in.
DELETE FROM session_hours WHERE hour_ts IN (SELECT hour_ts FROM _session_hours_moved)
