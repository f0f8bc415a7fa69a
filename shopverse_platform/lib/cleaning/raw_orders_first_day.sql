-- The first day the raw layer holds order lines for: days before it have no input history.
SELECT min(partition_date) AS first_day FROM raw_orders
