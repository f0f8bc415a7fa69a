-- The window's product lines in the fact: gross of orders, credits.
SELECT sum(gross_amount) FILTER (WHERE in_order), sum(credited_amount) FROM order_lines
WHERE order_date >= $start AND order_date < $end AND is_product
