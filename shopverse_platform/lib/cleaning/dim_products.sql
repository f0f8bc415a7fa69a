-- Every product seen in the catalogue, the events or the order exports; the catalogue's name,
-- category and price win, then the events', then the exports'.
WITH from_events AS (
    SELECT i.item_id AS product_id, mode(i.item_name) AS product_name, mode(i.item_category) AS category,
           median(i.price) AS list_price
    FROM (SELECT unnest(items) AS i FROM {{events}}) GROUP BY 1
),
from_orders AS (
    SELECT stock_code AS product_id, mode(description) AS product_name, NULL::VARCHAR AS category,
           CAST(median(unit_price) AS DOUBLE) AS list_price, mode(line_type) AS line_type
    FROM {{lines}} WHERE NOT is_cancellation GROUP BY 1
),
catalogue AS ({{catalogue}}),
ids AS (
    SELECT product_id FROM catalogue UNION SELECT product_id FROM from_events
    UNION SELECT product_id FROM from_orders
)
SELECT ids.product_id,
       coalesce(c.product_name, e.product_name, o.product_name) AS product_name,
       coalesce(c.category, e.category, o.category, 'uncategorised') AS category,
       coalesce(c.list_price, e.list_price, o.list_price) AS list_price,
       coalesce(o.line_type, 'product') = 'product' AS is_product,
       coalesce(o.line_type, 'product') AS line_type,
       c.product_id IS NOT NULL AS in_catalogue
FROM ids LEFT JOIN catalogue c USING (product_id) LEFT JOIN from_events e USING (product_id)
LEFT JOIN from_orders o USING (product_id)
WHERE ids.product_id IS NOT NULL
ORDER BY ids.product_id
