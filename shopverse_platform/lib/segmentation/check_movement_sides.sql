-- Per segmentation, the entities on the 'to' side (all but $left) and the 'from' side (all but
-- $entered) of the movements of the week starting $week.
SELECT segmentation, sum(entities) FILTER (WHERE to_segment <> $left),
       sum(entities) FILTER (WHERE from_segment <> $entered)
FROM segment_movements WHERE week_start = $week GROUP BY 1
