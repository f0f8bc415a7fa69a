-- Visitors per intent level.
SELECT intent_segment, count(*) FROM intent_segments GROUP BY 1
