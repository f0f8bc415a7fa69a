"""``weekly_kpis``: one row per ISO week (Monday start) and KPI, with the previous week and the change.

Sums come from the daily metric tables (so a week adds up to its days); distinct counts come from
``orders`` (customers) and ``sessions`` (visitors), because a customer buying on two days of a week
is one customer.
The previous week is computed in the same query from the same tables; a KPI of a week whose daily
rows were never materialized is NULL (so is its change), never a misleading zero.
"""

from __future__ import annotations

from datetime import date, timedelta

import duckdb

from shopverse_platform.lib.metrics.sources import replace_window, session_stats
from shopverse_platform.lib.warehouse.tables import table_exists

KPIS: tuple[str, ...] = (
    "orders", "items", "gross_revenue", "cancelled_revenue", "net_revenue", "average_order_value",
    "unique_customers", "new_customers", "guest_orders", "visitors", "sessions", "page_views",
    "bounce_rate", "conversion_rate", "cart_abandonment_rate",
)

WEEKLY_KPIS_SQL = f"""
WITH weeks AS (SELECT CAST(range AS DATE) AS week_start FROM range(CAST($lo AS TIMESTAMP), CAST($end AS TIMESTAMP), INTERVAL 7 DAY)),
sales AS (
    SELECT CAST(date_trunc('week', sales_date) AS DATE) AS week_start, sum(orders) AS orders, sum(items) AS items,
           sum(gross_revenue) AS gross_revenue, sum(cancelled_revenue) AS cancelled_revenue,
           sum(net_revenue) AS net_revenue, sum(new_customers) AS new_customers, sum(guest_orders) AS guest_orders
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
           sum(sessions) FILTER (WHERE funnel = 'purchase' AND step = 'purchase') AS funnel_purchases
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
           CAST(s.gross_revenue AS DOUBLE) / nullif(s.orders, 0) AS average_order_value,
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
long AS (SELECT week_start, kpi, value FROM wide UNPIVOT INCLUDE NULLS (value FOR kpi IN ({", ".join(KPIS)}))),
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
ORDER BY week_start, list_position({list(KPIS)}, kpi)
"""


def _daily(con: duckdb.DuckDBPyConnection, table: str, empty: str) -> str:
    return table if table_exists(con, table) else f"({empty})"


def build_weekly_kpis(con: duckdb.DuckDBPyConnection, start: date, end: date) -> int:
    """Weeks in [start, end); ``start`` is a Monday (weekly partitions start on Mondays)."""
    lo = start - timedelta(days=7)
    sql = WEEKLY_KPIS_SQL.format(
        sessions=session_stats(con),
        daily_traffic=_daily(con, "daily_traffic", "SELECT NULL::DATE AS traffic_date, 0 AS sessions, 0 AS page_views, 0 AS bounced_sessions WHERE false"),
        funnel_daily=_daily(con, "funnel_daily", "SELECT NULL::DATE AS funnel_date, '' AS funnel, '' AS step, 0 AS sessions WHERE false"),
        cart_abandonment=_daily(con, "cart_abandonment", "SELECT NULL::DATE AS cart_date, 0 AS carts_created, 0 AS carts_abandoned WHERE false"),
    )
    return replace_window(con, "weekly_kpis", "week_start", start, end, sql, {"lo": lo, "start": start, "end": end})
