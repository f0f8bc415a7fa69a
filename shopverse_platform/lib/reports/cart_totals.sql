-- Carts created and abandoned over [$start, $end), and the value left in abandoned carts.
SELECT sum(carts_created)::DOUBLE AS carts_created, sum(carts_abandoned)::DOUBLE AS carts_abandoned,
       sum(abandoned_value)::DOUBLE AS abandoned_value
FROM cart_abandonment WHERE cart_date >= $start AND cart_date < $end
