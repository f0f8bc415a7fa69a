-- Every product seen in the catalogue, the events or the order exports; the catalogue's name,
-- category and price win, then the events', then the exports'. Read from product_observations
-- (per day, how often each name, category and price was seen): the most frequent value (the
-- smallest on a tie) and the median price of everything seen, as if over the rows themselves.
WITH seen AS (
    SELECT source, product_id, product_name, category, price, unit_price, line_type, sum(n) AS n
    FROM product_observations GROUP BY ALL
),
modes AS (
    SELECT source, product_id,
           first(product_name ORDER BY n DESC, product_name) FILTER (WHERE product_name IS NOT NULL) AS product_name,
           first(category ORDER BY n DESC, category) FILTER (WHERE category IS NOT NULL) AS category,
           first(line_type ORDER BY n DESC, line_type) FILTER (WHERE line_type IS NOT NULL) AS line_type
    FROM (SELECT source, product_id, product_name, sum(n) AS n FROM seen GROUP BY ALL
          UNION ALL BY NAME
          SELECT source, product_id, category, sum(n) AS n FROM seen GROUP BY ALL
          UNION ALL BY NAME
          SELECT source, product_id, line_type, sum(n) AS n FROM seen GROUP BY ALL)
    GROUP BY ALL
),
-- The median of values given with their counts: the value(s) at the middle position(s) of the
-- sorted values, then median() of those one or two, as median() over all of them interpolates.
event_prices AS (
    SELECT product_id, price, n, sum(n) OVER (PARTITION BY product_id ORDER BY price) AS upto,
           sum(n) OVER (PARTITION BY product_id) AS total
    FROM (SELECT product_id, price, sum(n) AS n FROM seen WHERE source = 'clean_events' AND price IS NOT NULL GROUP BY ALL)
),
order_prices AS (
    SELECT product_id, unit_price, n, sum(n) OVER (PARTITION BY product_id ORDER BY unit_price) AS upto,
           sum(n) OVER (PARTITION BY product_id) AS total
    FROM (SELECT product_id, unit_price, sum(n) AS n FROM seen
          WHERE source = 'clean_order_lines' AND unit_price IS NOT NULL GROUP BY ALL)
),
event_medians AS (
    SELECT product_id, median(price) AS list_price FROM event_prices
    WHERE upto - n < (total + 1) // 2 AND upto >= (total + 1) // 2 OR upto - n < total // 2 + 1 AND upto >= total // 2 + 1
    GROUP BY product_id
),
order_medians AS (
    SELECT product_id, CAST(median(unit_price) AS DOUBLE) AS list_price FROM order_prices
    WHERE upto - n < (total + 1) // 2 AND upto >= (total + 1) // 2 OR upto - n < total // 2 + 1 AND upto >= total // 2 + 1
    GROUP BY product_id
),
from_events AS (
    SELECT m.product_id, m.product_name, m.category, p.list_price
    FROM modes m LEFT JOIN event_medians p USING (product_id) WHERE m.source = 'clean_events'
),
from_orders AS (
    SELECT m.product_id, m.product_name, NULL::VARCHAR AS category, p.list_price, m.line_type
    FROM modes m LEFT JOIN order_medians p USING (product_id) WHERE m.source = 'clean_order_lines'
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
