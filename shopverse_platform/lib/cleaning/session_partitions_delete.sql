DELETE FROM session_partitions WHERE partition_date IN (SELECT partition_date FROM _sessions_changed_days)
