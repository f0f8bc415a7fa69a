-- The days whose fingerprint differs from customer_totals' last build (new, changed or gone), and
-- the customers to recompute: those with a document on such a day now, or at the last build.
CREATE OR REPLACE TEMP TABLE _customer_changed_days AS
SELECT coalesce(n.order_date, o.order_date) AS order_date
FROM _customer_sources_now n FULL OUTER JOIN customer_sources o USING (order_date)
WHERE n."rows" IS DISTINCT FROM o."rows" OR n.fingerprint IS DISTINCT FROM o.fingerprint;
CREATE OR REPLACE TEMP TABLE _customers_affected AS
SELECT customer_id FROM customer_order_days WHERE order_date IN (SELECT order_date FROM _customer_changed_days)
UNION
SELECT customer_id FROM orders
WHERE customer_id IS NOT NULL AND order_date IN (SELECT order_date FROM _customer_changed_days)
