-- The snapshot rows of the week starting $week_start ($before = the Monday after): the customers'
-- (customer_snapshots.sql) and every recent visitor's intent segment as of the Sunday, with the
-- value it carries (purchase revenue to date).
SELECT * FROM ({{customer_snapshots}})
UNION ALL
SELECT CAST($week_start AS DATE) AS week_start, CAST($before AS DATE) - 1 AS as_of_date,
       'intent_segment', visitor_id, intent_segment, CAST(revenue_total AS DECIMAL(18,2))
FROM ({{intent_segments}})
