-- The window's daily_sales per ISO week: days present, net revenue and orders.
SELECT CAST(date_trunc('week', sales_date) AS DATE), count(*), sum(net_revenue), sum(orders)
FROM daily_sales WHERE sales_date >= $start AND sales_date < $end GROUP BY 1
