-- The landing days a raw_events table of the earlier layout (one row per line) held.
SELECT DISTINCT partition_date FROM raw_events ORDER BY 1
