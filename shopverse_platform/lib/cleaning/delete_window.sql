-- The rows of a clean table in the window [start, end) of landing days, before they are replaced.
DELETE FROM {{target}} WHERE partition_date >= $start AND partition_date < $end
