-- The window's documents and their gross, credited and net sales in orders.
SELECT count(*), sum(gross_amount), sum(credited_amount), sum(net_amount)
FROM orders WHERE order_date >= $start AND order_date < $end
