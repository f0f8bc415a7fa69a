"""The order facts: purchases, refunds and order-export lines in one shape, by the day they happened."""

import dagster as dg

from shopverse_platform.defs.asset_helpers import table_metadata
from shopverse_platform.defs.asset_shapes import ANALYTICS, window, window_params
from shopverse_platform.defs.checks import Check, table_checks
from shopverse_platform.defs.lineage.sql_lineage import StatementLog, sql_lineage_metadata
from shopverse_platform.defs.resources import Warehouse
from shopverse_platform.lib.cleaning.dimensions import update_visitor_observations
from shopverse_platform.lib.metrics import checks, facts
from shopverse_platform.lib.metrics.currencies import CurrencySettings
from shopverse_platform.lib.metrics.sources import purchase_events

FACTS = ANALYTICS.with_group("facts")
LINES_MATCH_CLEAN = Check(
    "order_lines", "match_clean_sources",
    "Export lines and amounts equal clean_order_lines; event orders and refunds equal the clean purchase "
    "(first per transaction) and refund events of the window.", blocking=True)
REVENUE_CONVERTED = Check(
    "order_lines", "revenue_converted",
    "Every sales line of the window has an amount in the reporting currency (an exchange rate at most "
    "SHOPVERSE_EXCHANGE_RATE_MAX_AGE_DAYS old), and the table is in one reporting currency; a failure says how much "
    "net revenue, per currency and day, is left out of the reporting-currency figures.", warn=True)
ORDERS_MATCH_LINES = Check("orders", "match_order_lines", "Documents and gross/credited/net sales amounts equal their lines.",
                           blocking=True)
DOCUMENT_UNIQUE = Check("orders", "document_unique", "(source, document_id) is unique over the whole table.", blocking=True)


@dg.asset(
    **FACTS.daily("order_date", ["clean_events", "clean_order_lines"]),
    check_specs=[LINES_MATCH_CLEAN.spec(), REVENUE_CONVERTED.spec()],
)
def order_lines(context: dg.AssetExecutionContext, warehouse: Warehouse):
    """One row per line of an order or a credit, from both sources (`source` = 'events' / 'order_export').

    Purchase events and invoices are orders; refund events and `C` invoices are credits, dated on
    the day they happened (they net out then, not on the day of the sale) and linked to the order
    they cancel by `order_id`. `gross_amount`, `credited_amount` and `net_amount` are separate;
    `is_sales` marks lines that make revenue (not fees, commission, bad debt, samples),
    `is_product` marks goods (not postage or adjustments), `in_order` lines of documents that bill.

    Each line keeps its `currency` and original amounts (`original_unit_price`, `original_amount`);
    the money columns are in the `reporting_currency` (SHOPVERSE_REPORTING_CURRENCY, else the currency
    of most revenue) at `exchange_rate`, from the rate file SHOPVERSE_EXCHANGE_RATES (the latest rate
    at most SHOPVERSE_EXCHANGE_RATE_MAX_AGE_DAYS old), NULL when there is none (README, "Configuration").
    """
    params = window_params(context)
    start, end = params["start"], params["end"]
    settings = CurrencySettings.from_environment()  # read when the run builds, like the quality gates
    with warehouse.connect() as con:
        # the purchase observations the first deliveries and the reporting currency are read from
        # (lib/metrics/sources.py purchase_events), brought up to date with clean_events first
        update_visitor_observations(con)
        log = StatementLog(con)  # the SQL that really ran, for column lineage
        # where the purchase events are read from (the observations when current), decided once for
        # the build and its source check: deciding again cost 3 catalog reads and a query of the
        # fingerprints (~35 ms on a DuckLake, ~6 ms on a DuckDB file)
        purchases = purchase_events(log)
        rows = facts.build_order_lines(log, start, end, settings, purchases)
        context.log.info(f"order_lines {start}..{end}: {rows} lines")
        yield dg.MaterializeResult(metadata={
            **table_metadata(con, "order_lines", window("order_date"), params, window_rows=rows),
            **sql_lineage_metadata(con, "order_lines", log.take()),
        })
        yield LINES_MATCH_CLEAN.result(checks.order_lines_match_clean(con, start, end, purchases))
        yield REVENUE_CONVERTED.result(checks.revenue_converted(con, start, end, settings.max_rate_age_days,
                                                                settings.exchange_rates))


@dg.asset(
    **FACTS.daily("order_date", ["order_lines"]),
    check_specs=[ORDERS_MATCH_LINES.spec()],
)
def orders(context: dg.AssetExecutionContext, warehouse: Warehouse):
    """One row per sales document (order, cancellation, refund) with its totals.

    `is_order`: an order that bills something (an invoice of zero-priced stock movements is not an
    order). `is_credit`: a cancellation or refund giving money back. `credited_order_ids` lists the
    orders a credit cancels.
    """
    params = window_params(context)
    with warehouse.connect() as con:
        log = StatementLog(con)  # the SQL that really ran, for column lineage
        rows = facts.build_orders(log, params["start"], params["end"])
        yield dg.MaterializeResult(metadata={
            **table_metadata(con, "orders", window("order_date"), params, window_rows=rows),
            **sql_lineage_metadata(con, "orders", log.take()),
        })
        yield ORDERS_MATCH_LINES.result(checks.orders_match_lines(con, params["start"], params["end"]))


orders_checks = table_checks("orders", [
    (DOCUMENT_UNIQUE, lambda con: checks.unique_key(con, "orders", "source, document_id")),
])
