-- The affected sessions as they are before their delete (where they started, their bot verdict, and
-- where they are: rowid): the part they played in session_hours, taken back by
-- session_hours_moved.sql, and the rows sessions_delete_affected.sql deletes without a second
-- lookup by id (one read of the sessions' ids, not two).
CREATE OR REPLACE TEMP TABLE _sessions_removed AS
SELECT rowid AS row_id, session_start, is_bot FROM sessions WHERE session_id IN (SELECT session_id FROM _sessions_affected)
