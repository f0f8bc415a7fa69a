-- One row per week starting in [$start, $end), segmentation and (from, to) pair between the week's
-- snapshot and the week before's: entities, their value and its change, and who they are. Both
-- weeks come from {{snapshots}} (every week of [$start - 7 days, $end): stored, or computed the same
-- way). $entered marks "not in the segmentation the week before", $left "no longer in it"
-- (movements.ENTERED / LEFT).
WITH current_weeks AS (
    SELECT week_start, segmentation, entity_id, segment, value
    FROM {{snapshots}}
    WHERE week_start >= $start AND week_start < $end
),
-- each week's snapshot as the week after's "before"
previous_weeks AS (
    SELECT week_start + 7 AS week_start, segmentation, entity_id, segment, value
    FROM {{snapshots}}
    WHERE week_start >= CAST($start AS DATE) - 7 AND week_start < CAST($end AS DATE) - 7
),
joined AS (
    SELECT coalesce(c.week_start, p.week_start) AS week_start,
           coalesce(c.segmentation, p.segmentation) AS segmentation,
           coalesce(c.entity_id, p.entity_id) AS entity_id,
           coalesce(p.segment, $entered) AS from_segment, coalesce(c.segment, $left) AS to_segment,
           coalesce(c.value, p.value) AS value,
           coalesce(c.value, p.value) - coalesce(p.value, 0) AS value_change
    FROM current_weeks c FULL OUTER JOIN previous_weeks p
      ON c.week_start = p.week_start AND c.segmentation = p.segmentation AND c.entity_id = p.entity_id
)
SELECT week_start, segmentation, from_segment, to_segment,
       from_segment <> to_segment AS moved, count(*) AS entities,
       CAST(coalesce(sum(value), 0) AS DECIMAL(18,2)) AS value,
       CAST(coalesce(sum(value_change), 0) AS DECIMAL(18,2)) AS value_change,
       list(entity_id ORDER BY entity_id) AS entity_ids
FROM joined
GROUP BY week_start, segmentation, from_segment, to_segment
