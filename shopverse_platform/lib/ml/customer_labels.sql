-- Per customer, what happened in [$before, $label_end): orders, and net revenue (never below 0), of
-- $order_source (all sources when NULL).
SELECT customer_id AS entity_id, count(*) FILTER (WHERE is_order) AS future_orders,
       -- the DECIMAL amounts summed exactly, then made DOUBLE: the same label in any thread order, and
       -- an order cancelled in full nets to 0 exactly (summed as DOUBLE it could be 1e-13)
       greatest(CAST(coalesce(sum(net_amount), 0) AS DOUBLE), 0) AS future_revenue
FROM {{orders}}
WHERE customer_id IS NOT NULL AND (is_order OR is_credit) AND ($order_source IS NULL OR source = $order_source)
  AND order_date >= $before AND order_date < $label_end
GROUP BY customer_id
