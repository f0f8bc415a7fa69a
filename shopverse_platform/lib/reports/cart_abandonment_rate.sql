-- The period's cart abandonment rate, [$start, $end).
SELECT sum(carts_abandoned)::DOUBLE / nullif(sum(carts_created), 0) FROM cart_abandonment
WHERE cart_date >= $start AND cart_date < $end
