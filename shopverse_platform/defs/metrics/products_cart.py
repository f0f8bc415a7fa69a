"""Cart abandonment and product performance, per day."""

import dagster as dg

from shopverse_platform.defs.asset_helpers import table_metadata, window_dates
from shopverse_platform.defs.metrics.common import daily_asset_args, results, spec
from shopverse_platform.defs.resources import Warehouse
from shopverse_platform.lib.metrics import carts, checks
from shopverse_platform.lib.metrics.checks import nested_rates

CART_RATES = ["abandonment_rate"] + [
    nested_rates(column, "abandonment_rate") for column in ("by_hour", "by_device", "by_country", "by_segment")
]
PRODUCT_COUNTS = ["views", "add_to_carts", "removes", "purchases", "units", "gross_revenue", "refunds",
                  "sessions_viewed", "sessions_added"]


@dg.asset(
    **daily_asset_args("cart_date", ["clean_events", "orders"]),
    check_specs=[
        spec("cart_abandonment", "carts_add_up", "Carts created = converted + abandoned, every day."),
        spec("cart_abandonment", "rates_in_unit_interval", "Abandonment rates (daily and in every breakdown) lie in [0, 1]."),
        spec("cart_abandonment", "every_day_present", "Exactly one row for every day of the run."),
        spec("cart_abandonment", "no_negative_counts", "No negative cart count or value."),
    ],
)
def cart_abandonment(context: dg.AssetExecutionContext, warehouse: Warehouse):
    """Carts per day (a cart lives in a session, counted on the day the session started): created,
    converted (purchased after the first add to cart), abandoned; abandonment rate; value left in
    abandoned carts (added minus removed); the most abandoned products; and abandonment by hour,
    device, country and customer segment (anonymous / new / returning customer)."""
    start, end = window_dates(context)
    window = {"start": start, "end": end}
    where = "cart_date >= $start AND cart_date < $end"
    with warehouse.connect() as con:
        carts.build_cart_abandonment(con, start, end)
        yield dg.MaterializeResult(metadata=table_metadata(con, "cart_abandonment", "cart_date >= ? AND cart_date < ?", [start, end]))
        yield from results("cart_abandonment", {
            "carts_add_up": lambda: checks.carts_add_up(con, start, end),
            "rates_in_unit_interval": lambda: checks.rates_in_unit_interval(con, "cart_abandonment", CART_RATES, where, window),
            "every_day_present": lambda: checks.every_day_present(con, "cart_abandonment", "cart_date", start, end),
            "no_negative_counts": lambda: checks.no_negative_counts(
                con, "cart_abandonment", ["carts_created", "carts_converted", "carts_abandoned", "abandoned_value"], where, window),
        })


@dg.asset(
    **daily_asset_args("product_date", ["clean_events", "order_lines"]),
    check_specs=[
        spec("product_performance", "revenue_reconciles",
             "Product revenue and refunds summed over products equal the product lines of the order fact."),
        spec("product_performance", "rates_in_unit_interval", "View→cart, cart→purchase and abandonment rates lie in [0, 1]."),
        spec("product_performance", "no_negative_counts", "No negative view, cart, purchase, unit or revenue figure."),
    ],
)
def product_performance(context: dg.AssetExecutionContext, warehouse: Warehouse):
    """Per product and day: views, add-to-carts, removes (on the event's day), purchases (orders),
    units, revenue and refunds (from the order fact; goods only, not postage or fees), and the
    view→cart, cart→purchase and abandonment rates of the sessions that started that day."""
    start, end = window_dates(context)
    window = {"start": start, "end": end}
    where = "product_date >= $start AND product_date < $end"
    with warehouse.connect() as con:
        carts.build_product_performance(con, start, end)
        yield dg.MaterializeResult(
            metadata=table_metadata(con, "product_performance", "product_date >= ? AND product_date < ?", [start, end])
        )
        yield from results("product_performance", {
            "revenue_reconciles": lambda: checks.product_revenue_reconciles(con, start, end),
            "rates_in_unit_interval": lambda: checks.rates_in_unit_interval(
                con, "product_performance", ["view_to_cart_rate", "cart_to_purchase_rate", "abandonment_rate"], where, window),
            "no_negative_counts": lambda: checks.no_negative_counts(con, "product_performance", PRODUCT_COUNTS, where, window),
        })
