-- The stale fingerprints of the unmatched days (_unmatched_partitions).
DELETE FROM partition_fingerprints
WHERE table_name = $table_name AND partition_date IN (SELECT partition_date FROM _unmatched_partitions)
