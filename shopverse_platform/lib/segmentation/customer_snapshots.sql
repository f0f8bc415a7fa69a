-- The customers' snapshot rows of the week starting $week_start ($before = the Monday after):
-- every customer's value tier and RFM segment as of the Sunday, with the value they carry (net
-- revenue to date).
SELECT CAST($week_start AS DATE) AS week_start, CAST($before AS DATE) - 1 AS as_of_date,
       'value_tier' AS segmentation, customer_id AS entity_id, value_tier AS segment,
       CAST(net_revenue AS DECIMAL(18,2)) AS value
FROM ({{value_tiers}})
UNION ALL
SELECT CAST($week_start AS DATE) AS week_start, CAST($before AS DATE) - 1 AS as_of_date,
       'rfm_segment', customer_id, rfm_segment, CAST(monetary AS DECIMAL(18,2))
FROM ({{rfm_segments}})
