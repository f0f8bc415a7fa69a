"""Daily sales, traffic and the purchase funnel."""

import dagster as dg

from shopverse_platform.defs.asset_helpers import table_metadata, window_dates
from shopverse_platform.defs.metrics.common import daily_asset_args, result, results, spec
from shopverse_platform.defs.resources import Warehouse
from shopverse_platform.lib.metrics import checks, sales, traffic

SALES_COUNTS = ["orders", "items", "cancellations", "unique_customers", "guest_customers", "guest_orders",
                "new_customers", "returning_customers", "unique_products", "gross_revenue", "cancelled_revenue"]
TRAFFIC_COUNTS = ["visitors", "sessions", "events", "page_views", "product_views", "bounced_sessions",
                  "bot_sessions", "bot_events"]


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


@dg.asset(
    **daily_asset_args("traffic_date", ["clean_events"]),
    check_specs=[
        spec("daily_traffic", "every_day_present", "Exactly one row for every day of the run, empty days included."),
        spec("daily_traffic", "no_negative_counts", "No negative visitor, session or event count."),
        spec("daily_traffic", "rates_in_unit_interval", "Bounce rate lies in [0, 1]."),
    ],
)
def daily_traffic(context: dg.AssetExecutionContext, warehouse: Warehouse):
    """Traffic per UTC day: visitors (devices), sessions (on the day they started, also when they
    cross midnight), page and product views, bounce rate, sessions per visitor, and activity by
    hour. Bot sessions are counted apart (`bot_sessions`, `bot_events`) and left out of the rest."""
    start, end = window_dates(context)
    window = {"start": start, "end": end}
    where = "traffic_date >= $start AND traffic_date < $end"
    with warehouse.connect() as con:
        traffic.build_daily_traffic(con, start, end)
        yield dg.MaterializeResult(metadata=table_metadata(con, "daily_traffic", "traffic_date >= ? AND traffic_date < ?", [start, end]))
        yield from results("daily_traffic", {
            "every_day_present": lambda: checks.every_day_present(con, "daily_traffic", "traffic_date", start, end),
            "no_negative_counts": lambda: checks.no_negative_counts(con, "daily_traffic", TRAFFIC_COUNTS, where, window),
            "rates_in_unit_interval": lambda: checks.rates_in_unit_interval(con, "daily_traffic", ["bounce_rate"], where, window),
        })


@dg.asset(
    **daily_asset_args("funnel_date", ["clean_events"]),
    check_specs=[
        spec("funnel_daily", "never_rises", "Within a day and funnel, no step has more sessions than the step before."),
        spec("funnel_daily", "rates_in_unit_interval", "Conversion and drop-off rates lie in [0, 1]."),
        spec("funnel_daily", "every_day_present", "Every day of the run has all 9 step rows (6 purchase + 3 checkout)."),
        spec("funnel_daily", "no_negative_counts", "No negative session count."),
    ],
)
def funnel_daily(context: dg.AssetExecutionContext, warehouse: Warehouse):
    """The purchase journey per day: session start → view item → add to cart → begin checkout →
    add payment info → purchase, counted as sessions (by start day, bots excluded) that reached each
    step in order; conversion from the previous step and from the start, and drop-off. The checkout
    funnel (begin checkout → add payment info → purchase) is reported on its own (`funnel`='checkout')."""
    start, end = window_dates(context)
    window = {"start": start, "end": end}
    where = "funnel_date >= $start AND funnel_date < $end"
    with warehouse.connect() as con:
        traffic.build_funnel_daily(con, start, end)
        yield dg.MaterializeResult(metadata=table_metadata(con, "funnel_daily", "funnel_date >= ? AND funnel_date < ?", [start, end]))
        yield from results("funnel_daily", {
            "never_rises": lambda: checks.funnel_never_rises(con, start, end),
            "rates_in_unit_interval": lambda: checks.rates_in_unit_interval(
                con, "funnel_daily", ["conversion_from_previous", "drop_off_rate", "conversion_from_start"], where, window),
            "every_day_present": lambda: checks.every_day_present(con, "funnel_daily", "funnel_date", start, end, rows_per_day=9),
            "no_negative_counts": lambda: checks.no_negative_counts(con, "funnel_daily", ["sessions"], where, window),
        })
