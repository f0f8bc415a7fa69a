-- The window's weekly net revenue and orders.
SELECT week_start, kpi, value FROM weekly_kpis
WHERE week_start >= $start AND week_start < $end AND kpi IN ('net_revenue', 'orders')
