DELETE FROM busy_sessions WHERE session_id IN (SELECT session_id FROM _sessions_affected)
