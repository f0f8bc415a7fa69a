"""Whole-history metrics: customers and seasonality."""

import dagster as dg

from shopverse_platform.defs.asset_helpers import table_metadata
from shopverse_platform.defs.asset_shapes import ANALYTICS
from shopverse_platform.defs.checks import Check, table_checks
from shopverse_platform.defs.lineage.sql_lineage import StatementLog, sql_lineage_metadata
from shopverse_platform.defs.resources import Warehouse
from shopverse_platform.lib.metrics import checks, history


@dg.asset(**ANALYTICS.whole_history(["orders", "dim_customers"]))
def customer_metrics(context: dg.AssetExecutionContext, warehouse: Warehouse):
    """One row per identified customer over the whole history: first and last order, orders,
    cancellations, gross/cancelled/net revenue, average order value, tenure, recency (at the last
    day with orders), historical lifetime value (net revenue to date) and profile attributes.
    Guests are not customers. The per-customer totals (`customer_totals`) are recomputed only for
    the customers with a document on a day that changed since the last build (metadata `mode`)."""
    with warehouse.connect() as con:
        build = history.build_customer_metrics(con)
        context.log.info(f"customer_metrics: {build.mode}")
        beside = ("customer_totals", "customer_sources", "customer_order_days")  # written with customer_metrics
        yield dg.MaterializeResult(metadata={
            **table_metadata(con, "customer_metrics", beside=beside), "mode": dg.MetadataValue.text(build.mode),
            **sql_lineage_metadata(con, "customer_metrics", build.sql),
        })


customer_metrics_checks = table_checks("customer_metrics", [
    (Check("customer_metrics", "revenue_reconciles",
           "Customers' net revenue sums to the identified customers' net sales in orders.", blocking=True),
     lambda con: checks.whole_history_revenue(con, "customer_metrics", "net_revenue")),
    (Check("customer_metrics", "customer_unique", "One row per customer.", blocking=True),
     lambda con: checks.unique_key(con, "customer_metrics", "customer_id")),
    (Check("customer_metrics", "no_negative_counts", "No negative order, item or day count.", blocking=True),
     lambda con: checks.no_negative_counts(
         con, "customer_metrics", ["orders", "cancellations", "items", "tenure_days", "recency_days"])),
])


# A profile of the whole history, which one more day hardly moves: rebuilt by the weekly job (group
# `long_term`, WEEKLY_GROUPS in defs/automation/selections.py), not after every day (issue 14: a
# daily run must not read the whole history for it).
@dg.asset(**ANALYTICS.with_group("long_term").whole_history(["clean_events", "sessions", "orders"], eager=False))
def seasonality(context: dg.AssetExecutionContext, warehouse: Warehouse):
    """Events and revenue by UTC hour × weekday and by month of the year, as totals, per observed
    day and as shares, with the peak slot of each named (`is_peak_events`, `is_peak_revenue`).
    Rebuilt weekly (weekly job): a profile of the whole history."""
    with warehouse.connect() as con:
        log = StatementLog(con)  # the SQL that really ran, for column lineage
        history.build_seasonality(log)
        peaks = history.peak_slots(con)
        yield dg.MaterializeResult(metadata={
            **table_metadata(con, "seasonality"),
            **sql_lineage_metadata(con, "seasonality", log.take()),
            **{f"peak_{k}": v or "none" for k, v in peaks.items()},
        })


def _one_peak_per_grain(con) -> tuple[bool, dict]:
    extra = con.execute(
        "SELECT count(*) FILTER (WHERE is_peak_events) - count(DISTINCT grain) FILTER (WHERE is_peak_events), "
        "count(*) FILTER (WHERE is_peak_revenue) - count(DISTINCT grain) FILTER (WHERE is_peak_revenue) FROM seasonality"
    ).fetchone()
    return extra == (0, 0), {"extra_peaks": list(extra), **history.peak_slots(con)}


seasonality_checks = table_checks("seasonality", [
    (Check("seasonality", "revenue_reconciles",
           "Net revenue over the hour × weekday slots equals the order fact's net sales.", blocking=True),
     lambda con: checks.whole_history_revenue(con, "seasonality", "net_revenue", "grain = 'hour_of_week'")),
    (Check("seasonality", "one_peak_per_grain", "At most one peak slot per grain and measure.", warn=True),
     _one_peak_per_grain),
])
