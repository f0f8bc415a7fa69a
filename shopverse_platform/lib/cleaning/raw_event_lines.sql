-- Lines the raw layer counted in the landing files it registered for [start, end).
SELECT coalesce(sum(line_count), 0) FROM raw_events WHERE partition_date >= $start AND partition_date < $end
