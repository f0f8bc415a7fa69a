-- Rows of the raw order exports for [start, end).
SELECT count(*) FROM raw_orders WHERE partition_date >= $start AND partition_date < $end
