-- Customers whose net revenue differs between value_tiers and customer_metrics, and customers on one side only.
SELECT count(*) FILTER (WHERE v.customer_id IS NOT NULL AND c.customer_id IS NOT NULL AND v.net_revenue <> c.net_revenue),
       count(*) FILTER (WHERE v.customer_id IS NULL OR c.customer_id IS NULL)
FROM value_tiers v FULL OUTER JOIN customer_metrics c USING (customer_id)
