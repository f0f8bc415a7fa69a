-- The raw_orders lines of [start, end) that came from each of the given exports: what a run
-- replacing the window without those exports would drop.
SELECT source_file, count(*) AS lines
FROM raw_orders
WHERE partition_date >= $start AND partition_date < $end AND list_contains($exports, source_file)
GROUP BY source_file
ORDER BY source_file
