-- What the changed partitions say about products, counted: per day and source, each combination
-- of name, category, price (events) or description, unit price, line type (order exports, sales
-- lines only) with how often it was seen. dim_products is computed from these counts, so a day
-- changing re-reads that day only.
SELECT 'clean_events' AS source, e.partition_date, i.item_id AS product_id, i.item_name AS product_name,
       i.item_category AS category, CAST(i.price AS DOUBLE) AS price, NULL::DECIMAL(18, 3) AS unit_price,
       NULL::VARCHAR AS line_type, count(*) AS n
FROM (SELECT partition_date, unnest(items) AS i
      FROM {{events}}
      WHERE partition_date IN (SELECT partition_date FROM _dimension_changed_days WHERE source = 'clean_events')) e
GROUP BY ALL
UNION ALL
SELECT 'clean_order_lines', partition_date, stock_code, description, NULL, NULL, unit_price, line_type, count(*)
FROM {{lines}}
WHERE NOT is_cancellation
  AND partition_date IN (SELECT partition_date FROM _dimension_changed_days WHERE source = 'clean_order_lines')
GROUP BY ALL
