-- One row per segmentation and (from, to) pair between the previous week's snapshot and the week
-- starting $week: entities, their value and its change, and who they are. $entered marks "not in the
-- segmentation the week before", $left "no longer in it" (movements.ENTERED / LEFT).
WITH joined AS (
    SELECT coalesce(c.segmentation, p.segmentation) AS segmentation,
           coalesce(c.entity_id, p.entity_id) AS entity_id,
           coalesce(p.segment, $entered) AS from_segment, coalesce(c.segment, $left) AS to_segment,
           coalesce(c.value, p.value) AS value,
           coalesce(c.value, p.value) - coalesce(p.value, 0) AS value_change
    FROM {{current}} c FULL OUTER JOIN {{previous}} p ON c.segmentation = p.segmentation AND c.entity_id = p.entity_id
)
SELECT CAST($week AS DATE) AS week_start, segmentation, from_segment, to_segment,
       from_segment <> to_segment AS moved, count(*) AS entities,
       CAST(coalesce(sum(value), 0) AS DECIMAL(18,2)) AS value,
       CAST(coalesce(sum(value_change), 0) AS DECIMAL(18,2)) AS value_change,
       list(entity_id ORDER BY entity_id) AS entity_ids
FROM joined
GROUP BY segmentation, from_segment, to_segment
