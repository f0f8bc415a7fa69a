-- The fingerprint of each partition of the two clean tables as they are now (row count and a hash
-- of its rows), kept by their writers in partition_fingerprints (lib/warehouse/
-- partition_fingerprints.py): any change to a day's clean rows changes it. A small table, not a
-- scan of either clean table.
CREATE OR REPLACE TEMP TABLE _dimension_sources_now AS
SELECT table_name AS source, partition_date, "rows", fingerprint
FROM partition_fingerprints WHERE table_name IN ('clean_events', 'clean_order_lines')
