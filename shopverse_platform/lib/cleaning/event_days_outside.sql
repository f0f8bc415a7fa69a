-- The event days of the clean events landed in [$start, $end) that lie outside those days: events
-- landed late (up to max_lateness_days before their landing day) or dated into the next day (the
-- future tolerance). Their days' metrics select by event_date, so those days need rebuilding.
-- $files: only the events of these landing files (a freshness run's appended files: the earlier
-- ones were reported by the runs that cleaned them); NULL: every file of the days.
SELECT DISTINCT event_date FROM clean_events
WHERE partition_date >= $start AND partition_date < $end AND (event_date < $start OR event_date >= $end)
  AND ($files IS NULL OR list_contains($files, source_file))
ORDER BY event_date
