-- Which sessions the changed partitions hold now.
INSERT INTO session_partitions
SELECT DISTINCT session_id, partition_date FROM clean_events
WHERE partition_date IN (SELECT partition_date FROM _sessions_changed_days)
