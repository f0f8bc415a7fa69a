-- Per customer, what happened in [$before, $label_end): orders, and net revenue (never below 0), of
-- $order_source (all sources when NULL).
SELECT customer_id AS entity_id, count(*) FILTER (WHERE is_order) AS future_orders,
       greatest(coalesce(sum(CAST(net_amount AS DOUBLE)), 0), 0) AS future_revenue
FROM {{orders}}
WHERE customer_id IS NOT NULL AND (is_order OR is_credit) AND ($order_source IS NULL OR source = $order_source)
  AND order_date >= $before AND order_date < $label_end
GROUP BY customer_id
