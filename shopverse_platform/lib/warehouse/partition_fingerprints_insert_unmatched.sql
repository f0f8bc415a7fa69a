-- The unmatched days as they are in the table now (partition_fingerprints_insert.sql's fingerprint).
INSERT INTO partition_fingerprints
SELECT $table_name, partition_date, count(*), bit_xor(hash(t))
FROM {{target}} t
WHERE partition_date IN (SELECT partition_date FROM _unmatched_partitions)
GROUP BY partition_date
