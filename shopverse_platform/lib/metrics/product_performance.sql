-- One row per UTC day and product. Counts (views, adds, removes) on the event's day; rates from the
-- sessions started that day (a session that viewed, added, bought the product); sales from the order
-- facts on the order day. Abandonment follows the carts' rule (carts.sql, cart_contents.sql: the same
-- fragments as cart_abandonment): of the carts the product was added to, those abandoned with it still in.
WITH item_events AS (
    SELECT event_date, session_date, session_id, event_name, event_ts, item.item_id AS product_id,
           item.item_name AS product_name, item.item_category AS category, coalesce(item.quantity, 1) AS quantity
    FROM (SELECT event_date, session_date, session_id, event_name, event_ts, unnest(items) AS item FROM _window_events
          WHERE NOT is_bot AND event_name IN ('view_item', 'add_to_cart', 'remove_from_cart', 'purchase'))
),
carts AS ({{carts}}),
abandoned AS (  -- (session, product) still in an abandoned cart
    SELECT c.session_id, x.product_id FROM carts c JOIN ({{cart_contents}}) x USING (session_id)
    WHERE NOT c.converted AND x.units > 0
),
counts AS (
    SELECT event_date AS product_date, product_id, max(product_name) AS product_name, max(category) AS category,
           count(*) FILTER (WHERE event_name = 'view_item') AS views,
           count(*) FILTER (WHERE event_name = 'add_to_cart') AS add_to_carts,
           count(*) FILTER (WHERE event_name = 'remove_from_cart') AS removes
    FROM item_events WHERE event_date >= $start AND event_date < $end AND event_name <> 'purchase'
    GROUP BY ALL
),
session_products AS (
    SELECT session_date AS product_date, product_id,
           count(*) FILTER (WHERE viewed) AS sessions_viewed,
           count(*) FILTER (WHERE viewed AND added) AS sessions_viewed_and_added,
           count(*) FILTER (WHERE added) AS sessions_added,
           count(*) FILTER (WHERE added AND purchased) AS sessions_added_and_purchased,
           count(*) FILTER (WHERE added AND left_abandoned) AS sessions_abandoned
    FROM (SELECT session_date, session_id, product_id,
                 bool_or(event_name = 'view_item') AS viewed, bool_or(event_name = 'add_to_cart') AS added,
                 -- bought at or after it was first added, as a cart converts (a purchase before the add is not its)
                 bool_or(event_name = 'purchase' AND event_ts >= first_add) AS purchased,
                 bool_or(a.session_id IS NOT NULL) AS left_abandoned
          FROM (SELECT *, min(event_ts) FILTER (WHERE event_name = 'add_to_cart')
                              OVER (PARTITION BY session_id, product_id) AS first_add
                FROM item_events WHERE session_date >= $start AND session_date < $end)
          LEFT JOIN abandoned a USING (session_id, product_id)
          GROUP BY ALL)
    GROUP BY ALL
),
sales AS (
    SELECT order_date AS product_date, product_id, max(product_name) AS product_name, max(category) AS category,
           count(DISTINCT document_id) FILTER (WHERE in_order) AS purchases,
           coalesce(sum(quantity) FILTER (WHERE in_order), 0) AS units,
           sum(gross_amount) AS gross_revenue, sum(credited_amount) AS refunds, sum(net_amount) AS net_revenue
    FROM order_lines
    WHERE order_date >= $start AND order_date < $end AND is_product AND (in_order OR document_type <> 'order')
    GROUP BY ALL
),
combined AS (
    SELECT product_date, product_id, max(product_name) AS product_name, max(category) AS category,
           sum(views) AS views, sum(add_to_carts) AS add_to_carts, sum(removes) AS removes,
           sum(purchases) AS purchases, sum(units) AS units, sum(gross_revenue) AS gross_revenue,
           sum(refunds) AS refunds, sum(net_revenue) AS net_revenue,
           sum(sessions_viewed) AS sessions_viewed, sum(sessions_viewed_and_added) AS sessions_viewed_and_added,
           sum(sessions_added) AS sessions_added, sum(sessions_added_and_purchased) AS sessions_added_and_purchased,
           sum(sessions_abandoned) AS sessions_abandoned
    FROM (SELECT * FROM counts UNION ALL BY NAME SELECT * FROM session_products UNION ALL BY NAME SELECT * FROM sales)
    WHERE product_id IS NOT NULL
    GROUP BY product_date, product_id
)
SELECT product_date, product_id, product_name, category,
       CAST(coalesce(views, 0) AS BIGINT) AS views, CAST(coalesce(add_to_carts, 0) AS BIGINT) AS add_to_carts,
       CAST(coalesce(removes, 0) AS BIGINT) AS removes, CAST(coalesce(purchases, 0) AS BIGINT) AS purchases,
       CAST(coalesce(units, 0) AS BIGINT) AS units,
       CAST(coalesce(gross_revenue, 0) AS DECIMAL(18,2)) AS gross_revenue,
       CAST(coalesce(refunds, 0) AS DECIMAL(18,2)) AS refunds,
       CAST(coalesce(net_revenue, 0) AS DECIMAL(18,2)) AS net_revenue,
       CAST(coalesce(sessions_viewed, 0) AS BIGINT) AS sessions_viewed,
       CAST(coalesce(sessions_added, 0) AS BIGINT) AS sessions_added,
       CASE WHEN sessions_viewed > 0 THEN sessions_viewed_and_added / sessions_viewed END AS view_to_cart_rate,
       CASE WHEN sessions_added > 0 THEN sessions_added_and_purchased / sessions_added END AS cart_to_purchase_rate,
       CASE WHEN sessions_added > 0 THEN sessions_abandoned / sessions_added END AS abandonment_rate
FROM combined
ORDER BY product_date, product_id
