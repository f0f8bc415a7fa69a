-- A table that no longer exists has no days.
DELETE FROM partition_fingerprints WHERE table_name = $table_name
