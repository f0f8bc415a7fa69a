-- A fingerprint of each day of orders as it is now: its row count and an order-independent hash
-- (bit_xor) of its whole rows, so any change to a day's documents changes it. One scan, a group per day.
CREATE OR REPLACE TEMP TABLE _customer_sources_now AS
SELECT order_date, count(*) AS "rows", bit_xor(hash(o)) AS fingerprint
FROM orders o
GROUP BY order_date
