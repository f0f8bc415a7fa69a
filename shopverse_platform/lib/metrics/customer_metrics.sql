-- One row per identified customer over the whole history, from customer_totals (kept up to date
-- from the days whose documents changed); recency at the last day with any order document.
WITH as_of AS (SELECT max(order_date) AS as_of_date FROM orders),
per_customer AS (SELECT * FROM customer_totals)
SELECT c.customer_id, c.sources,
       CAST(c.first_order_ts AS DATE) AS first_order_date, CAST(c.last_order_ts AS DATE) AS last_order_date,
       c.orders, c.cancellations, coalesce(c.items, 0) AS items,
       CAST(coalesce(c.gross_revenue, 0) AS DECIMAL(18,2)) AS gross_revenue,
       CAST(coalesce(c.cancelled_revenue, 0) AS DECIMAL(18,2)) AS cancelled_revenue,
       CAST(coalesce(c.net_revenue, 0) AS DECIMAL(18,2)) AS net_revenue,
       CASE WHEN c.orders > 0 THEN CAST(c.gross_revenue AS DOUBLE) / c.orders END AS average_order_value,
       CASE WHEN c.orders > 0 THEN CAST(c.net_revenue AS DOUBLE) / c.orders END AS average_net_order_value,
       date_diff('day', CAST(c.first_order_ts AS DATE), CAST(c.last_order_ts AS DATE)) AS tenure_days,
       date_diff('day', CAST(c.last_order_ts AS DATE), a.as_of_date) AS recency_days,
       CAST(coalesce(c.net_revenue, 0) AS DECIMAL(18,2)) AS historical_ltv,
       a.as_of_date,
       d.age_group, coalesce(d.country, c.order_country) AS country, d.signup_date, d.acquisition_channel
FROM per_customer c CROSS JOIN as_of a
LEFT JOIN {{dim_customers}} d USING (customer_id)
ORDER BY c.customer_id
