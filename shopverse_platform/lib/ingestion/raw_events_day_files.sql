-- The landing files raw_events registered for the window [start, end), with their fingerprint: what
-- an appending run (landing.appended_files) compares with the day's listing.
SELECT source_file, size_bytes, modified_ns, rejected_reason
FROM raw_events WHERE partition_date >= $start AND partition_date < $end
ORDER BY source_file
