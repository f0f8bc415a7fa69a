-- What each cart of carts.sql holds per product: units added minus removed (at most 0: taken out
-- again) and the price of its latest cart event. A product is abandoned in a cart when the cart is
-- abandoned and the product is still in it (units > 0); it is the same rule at both levels.
SELECT session_id, item.item_id AS product_id, max(item.item_name) AS product_name,
       sum(CASE WHEN event_name = 'add_to_cart' THEN 1 ELSE -1 END * coalesce(item.quantity, 1)) AS units,
       arg_max(item.price, event_ts) AS price
FROM (SELECT session_id, event_name, event_ts, unnest(items) AS item FROM _window_events
      WHERE session_date >= $start AND session_date < $end AND NOT is_bot
        AND event_name IN ('add_to_cart', 'remove_from_cart') AND session_id IN (SELECT session_id FROM {{carts}}))
GROUP BY ALL
