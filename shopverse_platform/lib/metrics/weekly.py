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

from shopverse_platform.lib.metrics.sources import replace_window, session_stats, table_or_empty
from shopverse_platform.lib.warehouse.sql import load_sql

# The KPIs in the order of their rows; weekly_kpis.sql computes exactly these columns.
KPIS: tuple[str, ...] = (
    "orders", "items", "gross_revenue", "cancelled_revenue", "net_revenue", "average_order_value",
    "unique_customers", "new_customers", "guest_orders", "visitors", "sessions", "page_views",
    "bounce_rate", "conversion_rate", "cart_abandonment_rate",
)


def build_weekly_kpis(con: duckdb.DuckDBPyConnection, start: date, end: date) -> int:
    """Weeks in [start, end); ``start`` is a Monday (weekly partitions start on Mondays)."""
    lo = start - timedelta(days=7)
    sql = load_sql(
        __file__, "weekly_kpis",
        sessions=session_stats(con),
        daily_traffic=table_or_empty(con, "daily_traffic", load_sql(__file__, "empty_daily_traffic")),
        funnel_daily=table_or_empty(con, "funnel_daily", load_sql(__file__, "empty_funnel_daily")),
        cart_abandonment=table_or_empty(con, "cart_abandonment", load_sql(__file__, "empty_cart_abandonment")),
    )
    params = {"lo": lo, "start": start, "end": end, "kpis": list(KPIS)}
    return replace_window(con, "weekly_kpis", "week_start", start, end, sql, params)
