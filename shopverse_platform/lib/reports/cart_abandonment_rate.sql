-- Cart abandonment rate of the report's period, [$start, $end), and of the one before it,
-- [$previous_start, $start): a row each, one read of cart_abandonment.
SELECT p.period, sum(d.carts_abandoned)::DOUBLE / nullif(sum(d.carts_created), 0) AS cart_abandonment_rate
FROM ({{periods}}) p
LEFT JOIN (SELECT * FROM cart_abandonment WHERE cart_date >= $previous_start AND cart_date < $end) d
  ON d.cart_date >= p.first_day AND d.cart_date < p.end_day
GROUP BY p.period
