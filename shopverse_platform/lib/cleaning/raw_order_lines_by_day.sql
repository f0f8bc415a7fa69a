-- Rows of the raw order exports, per day of [$history_start, $end).
SELECT partition_date, count(*) AS lines
FROM raw_orders WHERE partition_date >= $history_start AND partition_date < $end
GROUP BY partition_date
