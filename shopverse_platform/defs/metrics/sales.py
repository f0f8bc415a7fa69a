"""Daily sales from the order facts."""

import dagster as dg

from shopverse_platform.defs.asset_helpers import table_metadata, window_dates
from shopverse_platform.defs.metrics.common import (
    daily_asset_args,
    result,
    results,
    spec,
)
from shopverse_platform.defs.resources import Warehouse
from shopverse_platform.lib.metrics import checks, sales

SALES_COUNTS = ["orders", "items", "cancellations", "unique_customers", "guest_customers", "guest_orders",
                "new_customers", "returning_customers", "unique_products", "gross_revenue", "cancelled_revenue"]


@dg.asset(
    **daily_asset_args("sales_date", ["orders", "order_lines"]),
    check_specs=[
        spec("daily_sales", "reconciles_with_orders",
             "Sum of the days' gross, cancelled and net revenue equals the order fact's sales lines, to the penny."),
        spec("daily_sales", "orders_match_fact", "Each day's orders equal the distinct order documents in order_lines."),
        spec("daily_sales", "every_day_present", "Exactly one row for every day of the run, empty days included."),
        spec("daily_sales", "no_negative_counts", "No count and no gross or cancelled amount is negative."),
        spec("daily_sales", "no_gaps", "Across the whole table, no day is missing between the first and the last "
             "(a warning: this run's days are right, but rollups over the hole would not be).", blocking=False),
    ],
)
def daily_sales(context: dg.AssetExecutionContext, warehouse: Warehouse):
    """Sales per UTC day: orders (documents, never lines), items, gross revenue, cancellations and
    refunds (on the day they happened), net revenue, average order value, identified and guest
    customers, new and returning customers, unique products, revenue and orders by country, and the
    peak hours by revenue and by orders. Postage and adjustments are not products or items; guest
    orders count for revenue but not as customers."""
    start, end = window_dates(context)
    window = {"start": start, "end": end}
    with warehouse.connect() as con:
        sales.build_daily_sales(con, start, end)
        yield dg.MaterializeResult(metadata=table_metadata(con, "daily_sales", "sales_date >= ? AND sales_date < ?", [start, end]))
        yield from results("daily_sales", {
            "reconciles_with_orders": lambda: checks.daily_sales_reconcile(con, start, end),
            "orders_match_fact": lambda: checks.daily_orders_match_fact(con, start, end),
            "every_day_present": lambda: checks.every_day_present(con, "daily_sales", "sales_date", start, end),
            "no_negative_counts": lambda: checks.no_negative_counts(
                con, "daily_sales", SALES_COUNTS, "sales_date >= $start AND sales_date < $end", window),
        })
        yield result("daily_sales", "no_gaps", checks.no_gaps(con, "daily_sales", "sales_date"), warn_only=True)
