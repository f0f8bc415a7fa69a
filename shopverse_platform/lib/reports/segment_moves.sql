-- Entities that changed segment in the week starting $week, per segmentation and (from, to), most first.
SELECT segmentation, from_segment, to_segment, sum(entities)::DOUBLE AS customers
FROM segment_movements WHERE week_start = $week AND moved
GROUP BY ALL ORDER BY customers DESC
