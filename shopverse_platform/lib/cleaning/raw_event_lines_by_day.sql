-- Lines the raw layer counted in the landing files it registered, per day of [$history_start, $end).
SELECT partition_date, sum(line_count) AS lines
FROM raw_events WHERE partition_date >= $history_start AND partition_date < $end
GROUP BY partition_date
