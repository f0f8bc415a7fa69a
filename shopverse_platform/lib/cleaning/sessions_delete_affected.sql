DELETE FROM sessions WHERE rowid IN (SELECT row_id FROM _sessions_removed)
