"""Weekly KPIs with week-over-week change."""

import dagster as dg

from shopverse_platform.defs.asset_helpers import table_metadata
from shopverse_platform.defs.asset_shapes import ANALYTICS, window, window_params
from shopverse_platform.defs.checks import Check, run_checks
from shopverse_platform.defs.lineage.sql_lineage import StatementLog, sql_lineage_metadata
from shopverse_platform.defs.resources import Warehouse
from shopverse_platform.lib.metrics import checks, weekly


RUN_CHECKS = [
    Check("weekly_kpis", "matches_daily", "A week's net revenue and orders equal the sum of its 7 days in daily_sales.",
          blocking=True),
    Check("weekly_kpis", "every_kpi_present", f"Every week of the run has all {len(weekly.KPIS)} KPIs.", blocking=True),
    Check("weekly_kpis", "rates_in_unit_interval", "Bounce, conversion and cart abandonment rates lie in [0, 1].", blocking=True),
]


@dg.asset(
    **ANALYTICS.weekly("week_start", ["daily_sales", "daily_traffic", "funnel_daily", "cart_abandonment", "orders", "sessions"]),
    check_specs=[check.spec() for check in RUN_CHECKS],
)
def weekly_kpis(context: dg.AssetExecutionContext, warehouse: Warehouse):
    """The week's KPIs (Monday to Sunday, UTC), one row per KPI: orders, items, gross, cancelled and
    net revenue, average order value, unique and new customers, guest orders, visitors, sessions,
    page views, bounce, conversion and cart abandonment rates; each with the previous week's value,
    the change and the change in % (week over week)."""
    params = window_params(context)
    start, end = params["start"], params["end"]
    rates = f"{window('week_start')} AND kpi IN ('bounce_rate', 'conversion_rate', 'cart_abandonment_rate')"
    with warehouse.connect() as con:
        log = StatementLog(con)  # the SQL that really ran, for column lineage
        rows = weekly.build_weekly_kpis(log, start, end)
        yield dg.MaterializeResult(metadata={
            **table_metadata(con, "weekly_kpis", window("week_start"), params, window_rows=rows),
            **sql_lineage_metadata(con, "weekly_kpis", log.take()),
        })
        yield from run_checks(zip(RUN_CHECKS, [
            lambda: checks.weekly_matches_daily(con, start, end),
            lambda: checks.every_day_present(
                con, "weekly_kpis", "week_start", start, end, rows_per_day=len(weekly.KPIS), period_days=7),
            lambda: checks.rates_in_unit_interval(con, "weekly_kpis", ["value"], rates, params),
        ], strict=True))
