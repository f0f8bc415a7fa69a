-- Days present in the table but not fingerprinted, or fingerprinted but no longer in the table:
-- written by something that did not record them. One scan of the table's partition column.
CREATE OR REPLACE TEMP TABLE _unmatched_partitions AS
WITH present AS (SELECT DISTINCT partition_date FROM {{target}}),
known AS (SELECT partition_date FROM partition_fingerprints WHERE table_name = $table_name)
(SELECT partition_date FROM present EXCEPT SELECT partition_date FROM known)
UNION
(SELECT partition_date FROM known EXCEPT SELECT partition_date FROM present)
