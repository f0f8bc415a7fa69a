-- The first rejected lines (schema_violation) of each event file of [start, end), to recognise
-- another tool's export delivered into events/ instead of imports/<format>/.
SELECT source_file, partition_date, arg_min(raw_line, line_number) AS first_line
FROM quarantine
WHERE source = 'events' AND reason_code = 'schema_violation' AND raw_line IS NOT NULL
  AND partition_date >= $start AND partition_date < $end
GROUP BY source_file, partition_date
ORDER BY source_file
