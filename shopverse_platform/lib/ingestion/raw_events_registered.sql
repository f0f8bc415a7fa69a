-- The landing files raw_events registered for the window [start, end): their fingerprint and the
-- lines they held, for telling which of them a rebuild of the window would no longer find.
SELECT source_file, size_bytes, modified_ns, line_count
FROM raw_events WHERE partition_date >= $start AND partition_date < $end
