-- The window's registry in figures (files, quarantined files, lines, blank lines, bytes), whichever
-- way it was written (rebuilt, or new files appended).
SELECT count(*), count(rejected_reason), coalesce(sum(line_count), 0), coalesce(sum(blank_lines), 0),
       coalesce(sum(size_bytes), 0)
FROM raw_events WHERE partition_date >= $start AND partition_date < $end
