-- One row per identified customer with an order or a credit dated before $before (exclusive), as of
-- the day before. The order source comes from customer_state_settings.sql (NULL: every source).
-- Money is summed as DECIMAL (exact, so the same in any thread order) and only then made DOUBLE:
-- a DOUBLE sum computed in parallel could differ in its last bit between runs and reorder ties.
WITH docs AS (
    SELECT customer_id, order_date, is_order, is_credit, units, products, gross_amount, net_amount
    FROM {{orders}}
    WHERE customer_id IS NOT NULL AND (is_order OR is_credit) AND order_date < $before
      AND (getvariable('segmentation_customer_state').order_source IS NULL
           OR source = getvariable('segmentation_customer_state').order_source)
),
per_customer AS (
    SELECT customer_id,
           count(*) FILTER (WHERE is_order) AS orders,
           count(DISTINCT order_date) FILTER (WHERE is_order) AS order_days,
           count(*) FILTER (WHERE is_credit) AS cancellations,
           min(order_date) FILTER (WHERE is_order) AS first_order_date,
           max(order_date) FILTER (WHERE is_order) AS last_order_date,
           CAST(coalesce(sum(gross_amount) FILTER (WHERE is_order), 0) AS DOUBLE) AS gross_revenue,
           CAST(coalesce(sum(net_amount), 0) AS DOUBLE) AS net_revenue,
           count(*) FILTER (WHERE is_order AND order_date >= CAST($before AS DATE) - INTERVAL 30 DAY) AS orders_30d,
           count(*) FILTER (WHERE is_order AND order_date >= CAST($before AS DATE) - INTERVAL 90 DAY) AS orders_90d,
           CAST(coalesce(sum(net_amount) FILTER (WHERE order_date >= CAST($before AS DATE) - INTERVAL 90 DAY), 0) AS DOUBLE) AS revenue_90d,
           coalesce(sum(units) FILTER (WHERE is_order), 0) AS units,
           coalesce(sum(products) FILTER (WHERE is_order), 0) AS product_lines
    FROM docs GROUP BY customer_id
)
SELECT customer_id, orders, order_days, cancellations, first_order_date, last_order_date,
       date_diff('day', last_order_date, CAST($before AS DATE) - 1) AS recency_days,
       date_diff('day', first_order_date, CAST($before AS DATE) - 1) AS age_days,
       date_diff('day', first_order_date, last_order_date) AS tenure_days,
       gross_revenue, net_revenue,
       CASE WHEN orders > 0 THEN gross_revenue / orders END AS average_order_value,
       orders_30d, orders_90d, revenue_90d,
       CASE WHEN orders > 0 THEN units / orders END AS units_per_order,
       CASE WHEN orders > 0 THEN product_lines / orders END AS products_per_order,
       CASE WHEN orders > 0 THEN cancellations / orders END AS cancellation_rate,
       CASE WHEN order_days > 1 THEN date_diff('day', first_order_date, last_order_date) / (order_days - 1)
            ELSE date_diff('day', first_order_date, CAST($before AS DATE) - 1) END AS days_between_orders
FROM per_customer
