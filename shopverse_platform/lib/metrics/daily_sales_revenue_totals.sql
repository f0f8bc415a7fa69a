-- The window's gross, cancelled and net revenue summed over its days.
SELECT sum(gross_revenue), sum(cancelled_revenue), sum(net_revenue)
FROM daily_sales WHERE sales_date >= $start AND sales_date < $end
