"""Whole-history metrics: customers and seasonality."""

import dagster as dg

from shopverse_platform.defs.asset_helpers import table_metadata
from shopverse_platform.defs.metrics.common import result, spec, whole_history_args
from shopverse_platform.defs.resources import Warehouse
from shopverse_platform.lib.metrics import checks, history


@dg.asset(
    **whole_history_args(["orders", "dim_customers"]),
    check_specs=[
        spec("customer_metrics", "revenue_reconciles", "Customers' net revenue sums to the identified customers' net sales in orders."),
        spec("customer_metrics", "customer_unique", "One row per customer."),
        spec("customer_metrics", "no_negative_counts", "No negative order, item or day count."),
    ],
)
def customer_metrics(context: dg.AssetExecutionContext, warehouse: Warehouse):
    """One row per identified customer over the whole history: first and last order, orders,
    cancellations, gross/cancelled/net revenue, average order value, tenure, recency (at the last
    day with orders), historical lifetime value (net revenue to date) and profile attributes.
    Guests are not customers."""
    with warehouse.connect() as con:
        history.build_customer_metrics(con)
        yield dg.MaterializeResult(metadata=table_metadata(con, "customer_metrics"))
        yield result("customer_metrics", "revenue_reconciles", checks.whole_history_revenue(con, "customer_metrics", "net_revenue"))
        yield result("customer_metrics", "customer_unique", checks.unique_key(con, "customer_metrics", "customer_id"))
        yield result("customer_metrics", "no_negative_counts", checks.no_negative_counts(
            con, "customer_metrics", ["orders", "cancellations", "items", "tenure_days", "recency_days"]))


@dg.asset(
    **whole_history_args(["clean_events", "sessions", "orders"]),
    check_specs=[
        spec("seasonality", "revenue_reconciles", "Net revenue over the hour × weekday slots equals the order fact's net sales."),
        spec("seasonality", "one_peak_per_grain", "At most one peak slot per grain and measure.", blocking=False),
    ],
)
def seasonality(context: dg.AssetExecutionContext, warehouse: Warehouse):
    """Events and revenue by UTC hour × weekday and by month of the year, as totals, per observed
    day and as shares, with the peak slot of each named (`is_peak_events`, `is_peak_revenue`)."""
    with warehouse.connect() as con:
        history.build_seasonality(con)
        peaks = history.peak_slots(con)
        yield dg.MaterializeResult(metadata={**table_metadata(con, "seasonality"), **{f"peak_{k}": v or "none" for k, v in peaks.items()}})
        yield result("seasonality", "revenue_reconciles",
                     checks.whole_history_revenue(con, "seasonality", "net_revenue", "grain = 'hour_of_week'"))
        extra = con.execute(
            "SELECT count(*) FILTER (WHERE is_peak_events) - count(DISTINCT grain) FILTER (WHERE is_peak_events), "
            "count(*) FILTER (WHERE is_peak_revenue) - count(DISTINCT grain) FILTER (WHERE is_peak_revenue) FROM seasonality"
        ).fetchone()
        yield result("seasonality", "one_peak_per_grain", (extra == (0, 0), {"extra_peaks": list(extra), **peaks}), warn_only=True)
