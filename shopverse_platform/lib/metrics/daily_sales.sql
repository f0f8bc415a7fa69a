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
products AS (
    SELECT order_date, count(DISTINCT product_id) AS unique_products FROM order_lines
    WHERE order_date >= $start AND order_date < $end AND in_order AND is_product GROUP BY order_date
),
countries AS (
    SELECT order_date, list({'country': country, 'orders': orders, 'gross_revenue': gross, 'net_revenue': net}
                            ORDER BY net DESC, country) AS by_country
    FROM (SELECT order_date, coalesce(country, 'unknown') AS country, count(*) FILTER (WHERE is_order) AS orders,
                 sum(gross_amount) AS gross, sum(net_amount) AS net
          FROM docs WHERE is_order OR is_credit GROUP BY ALL)
    GROUP BY order_date
),
hours AS (
    SELECT order_date,
           arg_max(hour, (gross, -hour)) FILTER (WHERE orders > 0) AS peak_hour_by_revenue,
           arg_max(hour, (orders, -hour)) FILTER (WHERE orders > 0) AS peak_hour_by_orders
    FROM (SELECT order_date, CAST(hour(order_ts) AS INTEGER) AS hour, count(*) AS orders, sum(gross_amount) AS gross
          FROM docs WHERE is_order GROUP BY ALL)
    GROUP BY order_date
)
SELECT days.sales_date,
       coalesce(orders, 0) AS orders,
       CAST(coalesce(items, 0) AS BIGINT) AS items,
       CAST(coalesce(gross_revenue, 0) AS DECIMAL(18,2)) AS gross_revenue,
       coalesce(cancellations, 0) AS cancellations,
       CAST(coalesce(cancelled_revenue, 0) AS DECIMAL(18,2)) AS cancelled_revenue,
       CAST(coalesce(net_revenue, 0) AS DECIMAL(18,2)) AS net_revenue,
       CASE WHEN orders > 0 THEN CAST(gross_revenue AS DOUBLE) / orders END AS average_order_value,
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
ORDER BY days.sales_date
