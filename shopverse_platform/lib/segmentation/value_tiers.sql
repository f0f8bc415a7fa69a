-- Customers with any order or credit before $before, with their tier by net revenue to date.
-- The percent rank orders the exact DECIMAL revenue, so customers with equal revenue are peers and
-- share a percentile (and a tier) whatever the thread count; rows come ordered by revenue, then
-- customer_id, so the stored order is the same in every run too.
WITH state AS ({{customer_state}}),
ranked AS (
    SELECT *, CAST(net_revenue AS DECIMAL(18,2)) AS revenue,
           percent_rank() OVER (ORDER BY CAST(net_revenue AS DECIMAL(18,2))) AS revenue_percentile
    FROM state
),
tiers AS (
    SELECT CAST(generate_subscripts(t.names, 1) AS INTEGER) AS tier_rank, unnest(t.names) AS value_tier,
           unnest(t.thresholds) AS threshold
    FROM (SELECT getvariable('segmentation_value_tiers') AS t)
),
-- A customer's tier is the one with the highest threshold at or below their percentile (the tiers'
-- thresholds fall as their rank rises; the last one's is 0, so every customer gets one).
tiered AS (
    SELECT r.*, t.value_tier, t.tier_rank
    FROM ranked r ASOF JOIN tiers t ON r.revenue_percentile >= t.threshold
)
SELECT customer_id, CAST($before AS DATE) - 1 AS as_of_date, value_tier, tier_rank,
       revenue_percentile, revenue AS net_revenue, orders, last_order_date
FROM tiered
ORDER BY revenue, customer_id
