-- Carts and abandoned carts per device over [$start, $end), most carts first.
SELECT d.key AS device, sum(d.carts)::DOUBLE AS carts, sum(d.abandoned)::DOUBLE AS abandoned
FROM (SELECT unnest(by_device) AS d FROM cart_abandonment WHERE cart_date >= $start AND cart_date < $end)
GROUP BY ALL ORDER BY carts DESC
