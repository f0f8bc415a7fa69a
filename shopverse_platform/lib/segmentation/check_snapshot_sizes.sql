-- Entities per segmentation in the snapshot of the week starting $week.
SELECT segmentation, count(*) FROM segment_snapshots WHERE week_start = $week GROUP BY 1
