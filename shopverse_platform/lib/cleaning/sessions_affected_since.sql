-- The first partition of clean_events holding an event of an affected session, as
-- session_partitions has it once brought up to date (NULL when no affected session has an event).
SELECT min(partition_date) FROM session_partitions WHERE session_id IN (SELECT session_id FROM _sessions_affected)
