-- The window's registered landing files [start, end) from $after on (NULL: all of them) recorded as
-- cleaned with these rules (the window's previous records were deleted before a rebuild).
INSERT INTO cleaned_landing_files BY NAME
SELECT partition_date, source_file, size_bytes, modified_ns, rejected_reason,
       $future_tolerance_hours AS future_tolerance_hours, $max_lateness_days AS max_lateness_days
FROM raw_events
WHERE partition_date >= $start AND partition_date < $end AND ($after IS NULL OR source_file > $after)
