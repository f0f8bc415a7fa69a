-- The fingerprints of the days [start, end) of a table, before they are taken again.
DELETE FROM partition_fingerprints
WHERE table_name = $table_name AND partition_date >= $start AND partition_date < $end
