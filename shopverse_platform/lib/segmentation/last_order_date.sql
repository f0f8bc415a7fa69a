-- The last day with any sales document of $order_source (all sources when NULL).
SELECT max(order_date) FROM {{orders}}
WHERE $order_source IS NULL OR source = $order_source
