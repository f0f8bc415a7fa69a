-- The window's documents and their gross, credited and net sales, from the lines.
SELECT count(DISTINCT (source, document_id)), sum(gross_amount) FILTER (WHERE is_sales),
       sum(credited_amount) FILTER (WHERE is_sales), sum(net_amount) FILTER (WHERE is_sales)
FROM order_lines WHERE order_date >= $start AND order_date < $end
