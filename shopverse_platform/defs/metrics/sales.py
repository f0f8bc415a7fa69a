"""Daily sales from the order facts."""

import dagster as dg

from shopverse_platform.defs.asset_helpers import table_metadata
from shopverse_platform.defs.asset_shapes import ANALYTICS, window, window_params
from shopverse_platform.defs.checks import Check, run_checks, table_checks
from shopverse_platform.defs.lineage.sql_lineage import StatementLog, sql_lineage_metadata
from shopverse_platform.defs.resources import Warehouse
from shopverse_platform.lib.metrics import checks, sales

SALES_COUNTS = ["orders", "items", "cancellations", "unique_customers", "guest_customers", "guest_orders",
                "new_customers", "returning_customers", "unique_products", "gross_revenue", "cancelled_revenue"]


RUN_CHECKS = [
    Check("daily_sales", "reconciles_with_orders",
          "Sum of the days' gross, cancelled and net revenue equals the order fact's sales lines, to the penny.", blocking=True),
    Check("daily_sales", "orders_match_fact", "Each day's orders equal the distinct order documents in order_lines.", blocking=True),
    Check("daily_sales", "every_day_present", "Exactly one row for every day of the run, empty days included.", blocking=True),
    Check("daily_sales", "no_negative_counts", "No count and no gross or cancelled amount is negative.", blocking=True),
]
NO_GAPS = Check("daily_sales", "no_gaps", "Across the whole table, no day is missing between the first and the last "
                "(a warning: this run's days are right, but rollups over the hole would not be).", warn=True)


@dg.asset(
    **ANALYTICS.daily("sales_date", ["orders", "order_lines"]),
    check_specs=[check.spec() for check in RUN_CHECKS],
)
def daily_sales(context: dg.AssetExecutionContext, warehouse: Warehouse):
    """Sales per UTC day: orders (documents, never lines), items, gross revenue, cancellations and
    refunds (on the day they happened), net revenue, average order value (net: orders not fully
    cancelled that day, net of that day's credits; the gross one apart), identified and guest
    customers, new and returning customers, unique products, revenue and orders by country, and the
    peak hours by net revenue and by orders. Postage and adjustments are not products or items; guest
    orders count for revenue but not as customers."""
    params = window_params(context)
    start, end = params["start"], params["end"]
    with warehouse.connect() as con:
        log = StatementLog(con)  # the SQL that really ran, for column lineage
        rows = sales.build_daily_sales(log, start, end)
        yield dg.MaterializeResult(metadata={
            **table_metadata(con, "daily_sales", window("sales_date"), params, window_rows=rows),
            **sql_lineage_metadata(con, "daily_sales", log.take()),
        })
        yield from run_checks(zip(RUN_CHECKS, [
            lambda: checks.daily_sales_reconcile(con, start, end),
            lambda: checks.daily_orders_match_fact(con, start, end),
            lambda: checks.every_day_present(con, "daily_sales", "sales_date", start, end),
            lambda: checks.no_negative_counts(con, "daily_sales", SALES_COUNTS, window("sales_date"), params),
        ], strict=True))


daily_sales_checks = table_checks("daily_sales", [
    (NO_GAPS, lambda con: checks.no_gaps(con, "daily_sales", "sales_date")),
])
