"""Weekly KPIs with week-over-week change."""

import dagster as dg

from shopverse_platform.defs.asset_helpers import table_metadata, window_dates
from shopverse_platform.defs.metrics.common import results, spec, weekly_asset_args
from shopverse_platform.defs.resources import Warehouse
from shopverse_platform.lib.metrics import checks, weekly


@dg.asset(
    **weekly_asset_args("week_start", ["daily_sales", "daily_traffic", "funnel_daily", "cart_abandonment", "orders", "sessions"]),
    check_specs=[
        spec("weekly_kpis", "matches_daily", "A week's net revenue and orders equal the sum of its 7 days in daily_sales."),
        spec("weekly_kpis", "every_kpi_present", f"Every week of the run has all {len(weekly.KPIS)} KPIs."),
        spec("weekly_kpis", "rates_in_unit_interval", "Bounce, conversion and cart abandonment rates lie in [0, 1]."),
    ],
)
def weekly_kpis(context: dg.AssetExecutionContext, warehouse: Warehouse):
    """The week's KPIs (Monday to Sunday, UTC), one row per KPI: orders, items, gross, cancelled and
    net revenue, average order value, unique and new customers, guest orders, visitors, sessions,
    page views, bounce, conversion and cart abandonment rates; each with the previous week's value,
    the change and the change in % (week over week)."""
    start, end = window_dates(context)
    window = {"start": start, "end": end}
    rates = "week_start >= $start AND week_start < $end AND kpi IN ('bounce_rate', 'conversion_rate', 'cart_abandonment_rate')"
    with warehouse.connect() as con:
        weekly.build_weekly_kpis(con, start, end)
        yield dg.MaterializeResult(metadata=table_metadata(con, "weekly_kpis", "week_start >= ? AND week_start < ?", [start, end]))
        yield from results("weekly_kpis", {
            "matches_daily": lambda: checks.weekly_matches_daily(con, start, end),
            "every_kpi_present": lambda: checks.every_day_present(
                con, "weekly_kpis", "week_start", start, end, rows_per_day=len(weekly.KPIS), period_days=7),
            "rates_in_unit_interval": lambda: checks.rates_in_unit_interval(con, "weekly_kpis", ["value"], rates, window),
        })
