-- Net revenue and orders per day of [$lo, $end) (a daily report shows the 28 days up to its day).
SELECT sales_date AS bucket, net_revenue::DOUBLE AS net_revenue, orders::DOUBLE AS orders
FROM daily_sales WHERE sales_date >= $lo AND sales_date < $end ORDER BY 1
