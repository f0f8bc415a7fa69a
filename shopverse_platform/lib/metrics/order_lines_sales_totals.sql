-- The window's gross, credited and net amounts of sales lines in the fact.
SELECT sum(gross_amount), sum(credited_amount), sum(net_amount) FROM order_lines
WHERE order_date >= $start AND order_date < $end AND is_sales
