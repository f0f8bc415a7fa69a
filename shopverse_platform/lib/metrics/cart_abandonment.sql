-- One row per UTC day of the window: carts created, converted and abandoned. carts.sql and
-- cart_contents.sql hold the abandonment rule, shared with product_performance (see carts.py).
WITH days AS (  -- every day of the window gets its row, of zeros when nothing happened
    SELECT CAST(range AS DATE) AS cart_date FROM range(CAST($start AS TIMESTAMP), CAST($end AS TIMESTAMP), INTERVAL 1 DAY)
),
ev AS (  -- a cart's story: its adds, removes and purchases
    SELECT session_id, session_date, session_start, session_device, session_country, session_user_id,
           event_name, event_ts, items
    FROM _window_events
    WHERE session_date >= $start AND session_date < $end AND NOT is_bot
      AND event_name IN ('add_to_cart', 'remove_from_cart', 'purchase')
),
rule AS ({{carts}}),
firsts AS (
    SELECT customer_id, min(order_date) AS first_order_date FROM orders
    WHERE is_order AND customer_id IS NOT NULL AND order_date < $end GROUP BY customer_id
),
contents AS ({{cart_contents}}),
left_in_cart AS (
    -- prices summed as DECIMAL: exact in any thread order, so the value that breaks ties between the
    -- most abandoned products (and every value left in carts) is the same in every run
    SELECT session_id, sum(greatest(units, 0) * CAST(price AS DECIMAL(18,3))) AS left_value FROM contents GROUP BY session_id
),
carts AS (
    SELECT e.session_date, e.session_id, any_value(e.session_start) AS session_start,
           coalesce(any_value(e.session_device), 'unknown') AS device,
           coalesce(any_value(e.session_country), 'unknown') AS country,
           CASE WHEN any_value(e.session_user_id) IS NULL THEN 'anonymous'
                WHEN any_value(f.first_order_date) < e.session_date THEN 'returning' ELSE 'new' END AS segment,
           any_value(a.converted) AS converted,
           coalesce(any_value(l.left_value), 0) AS left_value
    FROM ev e JOIN rule a USING (session_id)
    LEFT JOIN left_in_cart l USING (session_id)
    LEFT JOIN firsts f ON f.customer_id = e.session_user_id
    GROUP BY e.session_date, e.session_id
),
per_day AS (
    SELECT session_date, count(*) AS carts_created, count(*) FILTER (WHERE converted) AS carts_converted,
           count(*) FILTER (WHERE NOT converted) AS carts_abandoned,
           sum(left_value) FILTER (WHERE NOT converted) AS abandoned_value
    FROM carts GROUP BY session_date
),
top_products AS (
    SELECT session_date, list({'product_id': product_id, 'product_name': product_name, 'carts': n, 'units': units,
                               'value': value} ORDER BY n DESC, value DESC, product_id)[:$top_products] AS v
    FROM (SELECT c.session_date, x.product_id, max(x.product_name) AS product_name, count(*) AS n,
                 sum(x.units) AS units, CAST(sum(x.units * CAST(x.price AS DECIMAL(18,3))) AS DECIMAL(18,2)) AS value
          FROM carts c JOIN contents x USING (session_id)
          WHERE NOT c.converted AND x.units > 0 GROUP BY ALL)
    GROUP BY session_date
),
cart_keys AS (  -- each cart under the key it has in each breakdown dimension
    SELECT session_date, converted, left_value, CAST(hour(session_start) AS VARCHAR) AS hour,
           CAST(device AS VARCHAR) AS device, CAST(country AS VARCHAR) AS country, CAST(segment AS VARCHAR) AS segment
    FROM carts
),
breakdowns AS (  -- carts, abandoned carts and value left per key of each dimension (hour, device, country, segment)
    SELECT session_date, dimension, list({'key': k, 'carts': carts, 'abandoned': abandoned,
                                           'abandonment_rate': abandoned / carts, 'abandoned_value': value} ORDER BY k) AS v
    FROM (SELECT session_date, dimension, k, count(*) AS carts,
                 count(*) FILTER (WHERE NOT converted) AS abandoned,
                 CAST(coalesce(sum(left_value) FILTER (WHERE NOT converted), 0) AS DECIMAL(18,2)) AS value
          FROM cart_keys UNPIVOT INCLUDE NULLS (k FOR dimension IN (hour, device, country, segment))
          GROUP BY ALL)
    GROUP BY session_date, dimension
)
SELECT days.cart_date,
       coalesce(carts_created, 0) AS carts_created,
       coalesce(carts_converted, 0) AS carts_converted,
       coalesce(carts_abandoned, 0) AS carts_abandoned,
       CASE WHEN carts_created > 0 THEN carts_abandoned / carts_created END AS abandonment_rate,
       CAST(coalesce(abandoned_value, 0) AS DECIMAL(18,2)) AS abandoned_value,
       coalesce(top_products.v, []) AS most_abandoned_products,
       coalesce(by_hour.v, []) AS by_hour,
       coalesce(by_device.v, []) AS by_device,
       coalesce(by_country.v, []) AS by_country,
       coalesce(by_segment.v, []) AS by_segment
FROM days
LEFT JOIN per_day ON per_day.session_date = days.cart_date
LEFT JOIN top_products ON top_products.session_date = days.cart_date
LEFT JOIN breakdowns by_hour ON by_hour.session_date = days.cart_date AND by_hour.dimension = 'hour'
LEFT JOIN breakdowns by_device ON by_device.session_date = days.cart_date AND by_device.dimension = 'device'
LEFT JOIN breakdowns by_country ON by_country.session_date = days.cart_date AND by_country.dimension = 'country'
LEFT JOIN breakdowns by_segment ON by_segment.session_date = days.cart_date AND by_segment.dimension = 'segment'
ORDER BY days.cart_date
