-- One row per UTC day of the window from the order facts (see sales.py for the rules).
WITH days AS (  -- every day of the window gets its row, of zeros when nothing happened
    SELECT CAST(range AS DATE) AS sales_date FROM range(CAST($start AS TIMESTAMP), CAST($end AS TIMESTAMP), INTERVAL 1 DAY)
),
docs AS (SELECT * FROM orders WHERE order_date >= $start AND order_date < $end),
firsts AS (
    SELECT customer_id, min(order_date) AS first_order_date FROM orders
    WHERE is_order AND customer_id IS NOT NULL AND order_date < $end GROUP BY customer_id
),
per_day AS (
    SELECT d.order_date,
           count(*) FILTER (WHERE is_order) AS orders,
           -- orders whose gross amount is known in the reporting currency (one without an exchange
           -- rate has none): the gross average's denominator, as the net one leaves them out too
           count(*) FILTER (WHERE is_order AND gross_amount IS NOT NULL) AS gross_aov_orders,
           sum(units) FILTER (WHERE is_order) AS items,
           sum(gross_amount) AS gross_revenue,
           count(*) FILTER (WHERE is_credit) AS cancellations,
           sum(credited_amount) AS cancelled_revenue,
           sum(net_amount) AS net_revenue,
           count(DISTINCT d.customer_id) FILTER (WHERE is_order) AS unique_customers,
           count(*) FILTER (WHERE is_order AND is_guest) AS guest_orders,
           count(DISTINCT coalesce(anonymous_id, document_id)) FILTER (WHERE is_order AND is_guest) AS guest_customers,
           sum(gross_amount) FILTER (WHERE is_order AND is_guest) AS guest_revenue,
           count(DISTINCT d.customer_id) FILTER (WHERE is_order AND f.first_order_date = d.order_date) AS new_customers
    FROM docs d LEFT JOIN firsts f USING (customer_id)
    GROUP BY d.order_date
),
window_lines AS MATERIALIZED (  -- the window's lines, read once for the credits and the products (on a
    -- DuckLake each read of a table pays its catalog queries and a scan)
    SELECT source, order_id, order_date, credited_amount, is_sales, document_type, product_id, in_order, is_product
    FROM order_lines WHERE order_date >= $start AND order_date < $end
),
same_day_credits AS (  -- what cancellations and refunds gave back on an order the day it was placed
    SELECT source, order_id, order_date, sum(credited_amount) AS credited FROM window_lines
    WHERE is_sales AND document_type <> 'order' AND order_id IS NOT NULL
    GROUP BY ALL
),
kept AS (  -- each order with its revenue net of those credits (0 or less: fully cancelled)
    SELECT o.order_date, CAST(hour(o.order_ts) AS INTEGER) AS hour, o.gross_amount,
           o.gross_amount - coalesce(c.credited, 0) AS kept_amount
    FROM docs o LEFT JOIN same_day_credits c
      ON c.source = o.source AND c.order_id = o.document_id AND c.order_date = o.order_date
    WHERE o.is_order
),
aov AS (
    SELECT order_date, count(*) FILTER (WHERE kept_amount > 0) AS aov_orders,
           sum(kept_amount) FILTER (WHERE kept_amount > 0) AS aov_net_revenue
    FROM kept GROUP BY order_date
),
products AS (
    SELECT order_date, count(DISTINCT product_id) AS unique_products FROM window_lines
    WHERE in_order AND is_product GROUP BY order_date
),
countries AS (
    SELECT order_date, list({'country': country, 'orders': orders, 'gross_revenue': gross, 'net_revenue': net}
                            ORDER BY net DESC, country) AS by_country
    FROM (SELECT order_date, coalesce(country, 'unknown') AS country, count(*) FILTER (WHERE is_order) AS orders,
                 sum(gross_amount) AS gross, sum(net_amount) AS net
          FROM docs WHERE is_order OR is_credit GROUP BY ALL)
    GROUP BY order_date
),
hours AS (  -- revenue by net of the same day's credits: an order cancelled that day sets no peak
    SELECT order_date,
           arg_max(hour, (net, -hour)) FILTER (WHERE net > 0) AS peak_hour_by_revenue,
           arg_max(hour, (orders, -hour)) FILTER (WHERE orders > 0) AS peak_hour_by_orders
    FROM (SELECT order_date, hour, count(*) AS orders, sum(greatest(kept_amount, 0)) AS net FROM kept GROUP BY ALL)
    GROUP BY order_date
)
SELECT days.sales_date,
       coalesce(orders, 0) AS orders,
       CAST(coalesce(items, 0) AS BIGINT) AS items,
       CAST(coalesce(gross_revenue, 0) AS DECIMAL(18,2)) AS gross_revenue,
       coalesce(cancellations, 0) AS cancellations,
       CAST(coalesce(cancelled_revenue, 0) AS DECIMAL(18,2)) AS cancelled_revenue,
       CAST(coalesce(net_revenue, 0) AS DECIMAL(18,2)) AS net_revenue,
       CASE WHEN aov_orders > 0 THEN CAST(aov_net_revenue AS DOUBLE) / aov_orders END AS average_order_value,
       CASE WHEN gross_aov_orders > 0 THEN CAST(gross_revenue AS DOUBLE) / gross_aov_orders END AS gross_average_order_value,
       coalesce(gross_aov_orders, 0) AS gross_aov_orders,
       coalesce(aov_orders, 0) AS aov_orders,
       CAST(coalesce(aov_net_revenue, 0) AS DECIMAL(18,2)) AS aov_net_revenue,
       coalesce(unique_customers, 0) AS unique_customers,
       coalesce(guest_customers, 0) AS guest_customers,
       coalesce(guest_orders, 0) AS guest_orders,
       CAST(coalesce(guest_revenue, 0) AS DECIMAL(18,2)) AS guest_revenue,
       coalesce(new_customers, 0) AS new_customers,
       coalesce(unique_customers, 0) - coalesce(new_customers, 0) AS returning_customers,
       coalesce(unique_products, 0) AS unique_products,
       coalesce(by_country, []) AS by_country,
       peak_hour_by_revenue, peak_hour_by_orders
FROM days
LEFT JOIN per_day ON per_day.order_date = days.sales_date
LEFT JOIN products ON products.order_date = days.sales_date
LEFT JOIN countries ON countries.order_date = days.sales_date
LEFT JOIN hours ON hours.order_date = days.sales_date
LEFT JOIN aov ON aov.order_date = days.sales_date
ORDER BY days.sales_date
