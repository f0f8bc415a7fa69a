-- The order fact's net sales: of identified customers' orders and credits only when $identified_only.
SELECT sum(net_amount) FROM orders
WHERE NOT $identified_only OR (customer_id IS NOT NULL AND (is_order OR is_credit))
