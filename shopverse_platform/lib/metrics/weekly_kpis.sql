-- One row per ISO week of [$start, $end) and KPI, with the previous week ($lo = $start - 7 days) and
-- the change. The KPI columns of wide, unpivoted in long, are weekly.KPIS in order; $kpis orders the rows.
WITH weeks AS (SELECT CAST(range AS DATE) AS week_start FROM range(CAST($lo AS TIMESTAMP), CAST($end AS TIMESTAMP), INTERVAL 7 DAY)),
sales AS (
    SELECT CAST(date_trunc('week', sales_date) AS DATE) AS week_start, sum(orders) AS orders, sum(items) AS items,
           sum(gross_revenue) AS gross_revenue, sum(cancelled_revenue) AS cancelled_revenue,
           sum(net_revenue) AS net_revenue, sum(new_customers) AS new_customers, sum(guest_orders) AS guest_orders,
           sum(aov_orders) AS aov_orders, sum(aov_net_revenue) AS aov_net_revenue
    FROM daily_sales WHERE sales_date >= $lo AND sales_date < $end GROUP BY 1
),
customers AS (
    SELECT CAST(date_trunc('week', order_date) AS DATE) AS week_start, count(DISTINCT customer_id) AS unique_customers
    FROM orders WHERE is_order AND order_date >= $lo AND order_date < $end GROUP BY 1
),
traffic AS (
    SELECT CAST(date_trunc('week', traffic_date) AS DATE) AS week_start, sum(sessions) AS sessions,
           sum(page_views) AS page_views, sum(bounced_sessions) AS bounced_sessions
    FROM {{daily_traffic}} WHERE traffic_date >= $lo AND traffic_date < $end GROUP BY 1
),
visitors AS (
    SELECT CAST(date_trunc('week', session_date) AS DATE) AS week_start, count(DISTINCT visitor_id) AS visitors
    FROM {{sessions}} WHERE NOT is_bot AND session_date >= $lo AND session_date < $end GROUP BY 1
),
funnel AS (
    SELECT CAST(date_trunc('week', funnel_date) AS DATE) AS week_start,
           sum(sessions) FILTER (WHERE funnel = 'purchase' AND step = 'session_start') AS funnel_sessions,
           -- sessions with a purchase in any order (the open funnel): the one conversion rate
           sum(open_sessions) FILTER (WHERE funnel = 'purchase' AND step = 'purchase') AS funnel_purchases
    FROM {{funnel_daily}} WHERE funnel_date >= $lo AND funnel_date < $end GROUP BY 1
),
carts AS (
    SELECT CAST(date_trunc('week', cart_date) AS DATE) AS week_start, sum(carts_created) AS created,
           sum(carts_abandoned) AS abandoned
    FROM {{cart_abandonment}} WHERE cart_date >= $lo AND cart_date < $end GROUP BY 1
),
wide AS (
    SELECT w.week_start,
           CAST(s.orders AS DOUBLE) AS orders, CAST(s.items AS DOUBLE) AS items,
           CAST(s.gross_revenue AS DOUBLE) AS gross_revenue, CAST(s.cancelled_revenue AS DOUBLE) AS cancelled_revenue,
           CAST(s.net_revenue AS DOUBLE) AS net_revenue,
           CAST(s.aov_net_revenue AS DOUBLE) / nullif(s.aov_orders, 0) AS average_order_value,  -- net (sales.py)
           CASE WHEN s.week_start IS NOT NULL THEN CAST(coalesce(c.unique_customers, 0) AS DOUBLE) END AS unique_customers,
           CAST(s.new_customers AS DOUBLE) AS new_customers, CAST(s.guest_orders AS DOUBLE) AS guest_orders,
           CASE WHEN t.week_start IS NOT NULL THEN CAST(coalesce(v.visitors, 0) AS DOUBLE) END AS visitors,
           CAST(t.sessions AS DOUBLE) AS sessions,
           CAST(t.page_views AS DOUBLE) AS page_views,
           t.bounced_sessions / nullif(t.sessions, 0) AS bounce_rate,
           f.funnel_purchases / nullif(f.funnel_sessions, 0) AS conversion_rate,
           ca.abandoned / nullif(ca.created, 0) AS cart_abandonment_rate
    FROM weeks w
    LEFT JOIN sales s USING (week_start) LEFT JOIN customers c USING (week_start)
    LEFT JOIN traffic t USING (week_start) LEFT JOIN visitors v USING (week_start)
    LEFT JOIN funnel f USING (week_start) LEFT JOIN carts ca USING (week_start)
),
long AS (
    SELECT week_start, kpi, value
    FROM wide UNPIVOT INCLUDE NULLS (value FOR kpi IN (
        orders, items, gross_revenue, cancelled_revenue, net_revenue, average_order_value, unique_customers,
        new_customers, guest_orders, visitors, sessions, page_views, bounce_rate, conversion_rate, cart_abandonment_rate))
),
compared AS (
    SELECT week_start, kpi, value,
           lag(value) OVER (PARTITION BY kpi ORDER BY week_start) AS previous_value
    FROM long
)
SELECT week_start, CAST(week_start + INTERVAL 6 DAY AS DATE) AS week_end, kpi, value, previous_value,
       value - previous_value AS change,
       CASE WHEN previous_value <> 0 THEN (value - previous_value) / abs(previous_value) END AS change_pct
FROM compared
WHERE week_start >= $start
ORDER BY week_start, list_position($kpis, kpi)
