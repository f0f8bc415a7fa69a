DELETE FROM input_quality WHERE source = $source AND partition_date >= $start AND partition_date < $end
