DELETE FROM session_hours WHERE hour_ts IN (SELECT hour_ts FROM _session_hours_affected)
