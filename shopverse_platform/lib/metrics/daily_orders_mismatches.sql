-- Days of the window whose daily_sales.orders differs from the distinct order documents in the fact.
SELECT s.sales_date, s.orders, coalesce(f.orders, 0)
FROM daily_sales s LEFT JOIN (
    SELECT order_date, count(DISTINCT (source, document_id)) AS orders FROM order_lines
    WHERE in_order AND order_date >= $start AND order_date < $end GROUP BY 1) f ON f.order_date = s.sales_date
WHERE s.sales_date >= $start AND s.sales_date < $end AND s.orders <> coalesce(f.orders, 0)
ORDER BY 1
