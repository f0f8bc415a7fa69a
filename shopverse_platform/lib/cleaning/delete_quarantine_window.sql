-- One source's quarantined rows in the window [start, end) of landing days, before they are replaced.
DELETE FROM quarantine WHERE source = $source AND partition_date >= $start AND partition_date < $end
