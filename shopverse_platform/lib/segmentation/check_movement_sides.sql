-- Per week starting in [$start, $end) and segmentation, the entities on the 'to' side (all but
-- $left) and the 'from' side (all but $entered) of the movements.
SELECT week_start, segmentation, sum(entities) FILTER (WHERE to_segment <> $left),
       sum(entities) FILTER (WHERE from_segment <> $entered)
FROM segment_movements WHERE week_start >= $start AND week_start < $end GROUP BY 1, 2
