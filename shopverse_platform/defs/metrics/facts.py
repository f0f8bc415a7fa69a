"""The order facts: purchases, refunds and order-export lines in one shape, by the day they happened."""

import dagster as dg

from shopverse_platform.defs.asset_helpers import table_metadata, window_dates
from shopverse_platform.defs.metrics.common import daily_asset_args, results, spec
from shopverse_platform.defs.resources import Warehouse
from shopverse_platform.lib.metrics import checks, facts

WINDOW = "order_date >= ? AND order_date < ?"


@dg.asset(
    **daily_asset_args("order_date", ["clean_events", "clean_order_lines"], group="facts"),
    check_specs=[
        spec("order_lines", "match_clean_sources",
             "Export lines and amounts equal clean_order_lines; event orders and refunds equal the clean purchase "
             "(first per transaction) and refund events of the window."),
    ],
)
def order_lines(context: dg.AssetExecutionContext, warehouse: Warehouse):
    """One row per line of an order or a credit, from both sources (`source` = 'events' / 'order_export').

    Purchase events and invoices are orders; refund events and `C` invoices are credits, dated on
    the day they happened (they net out then, not on the day of the sale) and linked to the order
    they cancel by `order_id`. `gross_amount`, `credited_amount` and `net_amount` are separate;
    `is_sales` marks lines that make revenue (not fees, commission, bad debt, samples),
    `is_product` marks goods (not postage or adjustments), `in_order` lines of documents that bill.
    """
    start, end = window_dates(context)
    with warehouse.connect() as con:
        rows = facts.build_order_lines(con, start, end)
        context.log.info(f"order_lines {start}..{end}: {rows} lines")
        yield dg.MaterializeResult(metadata=table_metadata(con, "order_lines", WINDOW, [start, end]))
        yield from results("order_lines", {"match_clean_sources": lambda: checks.order_lines_match_clean(con, start, end)})


@dg.asset(
    **daily_asset_args("order_date", ["order_lines"], group="facts"),
    check_specs=[
        spec("orders", "match_order_lines", "Documents and gross/credited/net sales amounts equal their lines."),
        spec("orders", "document_unique", "(source, document_id) is unique over the whole table."),
    ],
)
def orders(context: dg.AssetExecutionContext, warehouse: Warehouse):
    """One row per sales document (order, cancellation, refund) with its totals.

    `is_order`: an order that bills something (an invoice of zero-priced stock movements is not an
    order). `is_credit`: a cancellation or refund giving money back. `credited_order_ids` lists the
    orders a credit cancels.
    """
    start, end = window_dates(context)
    with warehouse.connect() as con:
        facts.build_orders(con, start, end)
        yield dg.MaterializeResult(metadata=table_metadata(con, "orders", WINDOW, [start, end]))
        yield from results("orders", {
            "match_order_lines": lambda: checks.orders_match_lines(con, start, end),
            "document_unique": lambda: checks.unique_key(con, "orders", "source, document_id"),
        })
