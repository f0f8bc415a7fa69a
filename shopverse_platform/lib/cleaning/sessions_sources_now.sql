-- The fingerprint of each landing partition of clean_events as it is now (row count and a hash of
-- its rows), kept by clean_events' writers in partition_fingerprints (lib/warehouse/
-- partition_fingerprints.py): any change to a day's clean rows (re-cleaned, appended, session ids
-- recomputed) changes it. A small table, not a scan of the events.
CREATE OR REPLACE TEMP TABLE _sessions_sources_now AS
SELECT partition_date, "rows" AS events, fingerprint
FROM partition_fingerprints WHERE table_name = 'clean_events'
