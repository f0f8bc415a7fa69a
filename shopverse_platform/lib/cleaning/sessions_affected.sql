-- The sessions to recompute: those with an event in a changed partition now, or at the last build
-- (an event removed, or moved to another session, leaves its old session to recompute or drop).
CREATE OR REPLACE TEMP TABLE _sessions_affected AS
SELECT session_id FROM session_partitions WHERE partition_date IN (SELECT partition_date FROM _sessions_changed_days)
UNION
SELECT session_id FROM clean_events WHERE partition_date IN (SELECT partition_date FROM _sessions_changed_days)
