-- Per product over [$start, $end): revenue, units, purchases, sessions that added it and abandoned
-- carts (sessions that added it without buying it, from each day's rate; summed over days).
SELECT coalesce(max(product_name), product_id) AS product_name, product_id,
       sum(net_revenue)::DOUBLE AS net_revenue, sum(units)::DOUBLE AS units,
       sum(purchases)::DOUBLE AS purchases, sum(sessions_added)::DOUBLE AS sessions_added,
       round(sum(coalesce(abandonment_rate, 0) * sessions_added))::DOUBLE AS abandoned_carts
FROM product_performance WHERE product_date >= $start AND product_date < $end
GROUP BY product_id
