-- Net revenue and orders of day $day and of the day before it, both up to $ends_after seconds after
-- midnight (UTC): the same hours, for a day whose data ends early.
SELECT sum(net_amount) FILTER (WHERE order_date = $day)::DOUBLE AS net_revenue,
       count(*) FILTER (WHERE order_date = $day AND is_order)::DOUBLE AS orders,
       sum(net_amount) FILTER (WHERE order_date = $day - INTERVAL 1 DAY)::DOUBLE AS previous_net_revenue,
       count(*) FILTER (WHERE order_date = $day - INTERVAL 1 DAY AND is_order)::DOUBLE AS previous_orders
FROM orders
WHERE order_date IN ($day, $day - INTERVAL 1 DAY)
  AND epoch(order_ts - CAST(order_date AS TIMESTAMP)) <= $ends_after
