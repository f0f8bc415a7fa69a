-- Entities per segmentation and segment in the snapshot of the week starting $week.
SELECT segmentation, segment, count(*)::DOUBLE AS customers FROM segment_snapshots
WHERE week_start = $week GROUP BY ALL ORDER BY segmentation, customers DESC
