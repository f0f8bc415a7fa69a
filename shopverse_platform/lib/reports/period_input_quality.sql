-- The input-quality rows of [$start, $end) per source: lines received, accepted, rejected by reason,
-- duplicates, the worst verdict of its days (2 fail, 1 warn, 0 ok) and their findings.
WITH period AS MATERIALIZED (  -- the period's rows, read once (a row per source and day)
    SELECT * FROM input_quality WHERE partition_date >= $start AND partition_date < $end
),
reasons AS (
    SELECT source, unnest(map_keys(rejected_by_reason)) AS reason, unnest(map_values(rejected_by_reason)) AS lines
    FROM period
),
by_reason AS (
    SELECT source, list({'reason': reason, 'lines': lines} ORDER BY lines DESC, reason) AS rejected_by_reason
    FROM (SELECT source, reason, sum(lines) AS lines FROM reasons GROUP BY source, reason)
    GROUP BY source
)
SELECT q.source, sum(lines_received) AS lines_received, sum(lines_accepted) AS lines_accepted,
       sum(lines_rejected) AS lines_rejected, sum(duplicates) AS duplicates,
       max(CASE status WHEN 'fail' THEN 2 WHEN 'warn' THEN 1 ELSE 0 END) AS severity,
       flatten(list(findings ORDER BY partition_date)) AS findings,
       -- a source without rejections has no entry: an empty list, not NULL
       coalesce(any_value(b.rejected_by_reason), []) AS rejected_by_reason
FROM period AS q LEFT JOIN by_reason AS b USING (source)
GROUP BY q.source ORDER BY q.source
