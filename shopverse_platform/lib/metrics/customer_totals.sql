-- Per identified customer, the totals over all their documents: first and last order, orders,
-- credits, items, revenue, sources, the most frequent country of their orders. Over {{customers}}:
-- every customer, or those whose documents changed (customer_metrics_affected.sql).
SELECT customer_id,
       min(order_ts) FILTER (WHERE is_order) AS first_order_ts,
       max(order_ts) FILTER (WHERE is_order) AS last_order_ts,
       count(*) FILTER (WHERE is_order) AS orders,
       count(*) FILTER (WHERE is_credit) AS cancellations,
       CAST(sum(units) FILTER (WHERE is_order) AS BIGINT) AS items,
       sum(gross_amount) AS gross_revenue, sum(credited_amount) AS cancelled_revenue, sum(net_amount) AS net_revenue,
       string_agg(DISTINCT source, '+' ORDER BY source) AS sources,
       mode(country) FILTER (WHERE is_order) AS order_country
FROM orders
WHERE {{documents}}  -- customer_documents.sql: the check of net_revenue reads the same
  AND {{customers}}
GROUP BY customer_id
