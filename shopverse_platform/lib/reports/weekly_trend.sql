-- Net revenue and orders per ISO week of [$lo, $end) (a weekly report shows the 12 weeks up to its week).
SELECT CAST(date_trunc('week', sales_date) AS DATE) AS bucket, sum(net_revenue)::DOUBLE AS net_revenue,
       sum(orders)::DOUBLE AS orders
FROM daily_sales WHERE sales_date >= $lo AND sales_date < $end GROUP BY 1 ORDER BY 1
