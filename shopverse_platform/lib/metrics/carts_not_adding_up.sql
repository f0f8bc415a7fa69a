-- Days of the window where carts created is not carts converted plus carts abandoned.
SELECT count(*) FROM cart_abandonment
WHERE cart_date >= $start AND cart_date < $end AND carts_created <> carts_converted + carts_abandoned
