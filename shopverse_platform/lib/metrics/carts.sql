-- The carts of the window, the one abandonment rule of cart_abandonment and product_performance:
-- a cart is a (non-bot) session with an add_to_cart, counted on the session's start day; it is
-- converted when the session has a purchase at or after its first add_to_cart, abandoned otherwise.
SELECT session_id, session_date, min(first_add) AS first_add,
       bool_or(event_name = 'purchase' AND event_ts >= first_add) AS converted
FROM (SELECT session_id, session_date, event_name, event_ts,
             min(event_ts) FILTER (WHERE event_name = 'add_to_cart') OVER (PARTITION BY session_id) AS first_add
      FROM _window_events
      WHERE session_date >= $start AND session_date < $end AND NOT is_bot AND event_name IN ('add_to_cart', 'purchase'))
WHERE first_add IS NOT NULL
GROUP BY session_id, session_date
