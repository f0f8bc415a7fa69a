-- What the changed partitions say about identified customers: per day, source and country, the
-- first and last time seen and how many rows. dim_customers is computed from these, so a day
-- changing re-reads that day only.
SELECT 'clean_events' AS source, partition_date, user_id AS customer_id, country,
       min(event_ts) AS first_seen, max(event_ts) AS last_seen, count(*) AS n
FROM {{events}}
WHERE user_id IS NOT NULL
  AND partition_date IN (SELECT partition_date FROM _dimension_changed_days WHERE source = 'clean_events')
GROUP BY ALL
UNION ALL
SELECT 'clean_order_lines', partition_date, customer_id, country, min(invoice_ts), max(invoice_ts), count(*)
FROM {{lines}}
WHERE customer_id IS NOT NULL
  AND partition_date IN (SELECT partition_date FROM _dimension_changed_days WHERE source = 'clean_order_lines')
GROUP BY ALL
