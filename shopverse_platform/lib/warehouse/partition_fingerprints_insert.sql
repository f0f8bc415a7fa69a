-- The days [start, end) of a table as they are now: rows and bit_xor of the row hashes (the same
-- rows, in any order, give the same fingerprint). Days without rows get none.
INSERT INTO partition_fingerprints
SELECT $table_name, partition_date, count(*), bit_xor(hash(t))
FROM {{target}} t
WHERE partition_date >= $start AND partition_date < $end
GROUP BY partition_date
