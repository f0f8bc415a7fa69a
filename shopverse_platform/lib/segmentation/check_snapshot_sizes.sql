-- Entities per week starting in [$start, $end) and segmentation in the stored snapshots.
SELECT week_start, segmentation, count(*) FROM segment_snapshots
WHERE week_start >= $start AND week_start < $end GROUP BY 1, 2
