"""The order facts: purchases and refunds from events and order-export lines in one shape.

``order_lines`` has one row per line of a sales document: an order (a purchase event, an invoice) or
a credit (a refund event, a cancellation invoice ``C...``). ``orders`` has one row per document.

Rules (see docs/metrics.md):
- A document is dated by its own timestamp: a cancellation or a refund nets out on the day it
  happened, never on the day of the sale it cancels. ``order_id`` on a credit names the order it
  cancels (the purchase's ``transaction_id``; the invoice the cleaning layer linked), NULL if unknown.
- Amounts: ``gross_amount`` is what an order bills, ``credited_amount`` what a credit gives back
  (positive), ``net_amount = gross_amount - credited_amount`` = the signed line amount.
- Only lines of ``SALES_LINE_TYPES`` (``is_sales``) make sales figures; ``is_product`` marks goods.
- An order counts (``is_order``) when it bills something: invoices holding only zero-priced stock
  movements are not orders.
- A purchase re-sent with a new event_id under the same transaction_id counts once (the earliest).
- Currencies (``currencies.py``): ``currency``, ``original_unit_price`` and ``original_amount`` are the
  line as sold; ``unit_price``, ``line_amount`` and the gross/credited/net amounts are in the
  ``reporting_currency``, at ``exchange_rate`` (1 for the reporting currency itself), NULL when no
  rate converts the line.
"""

from __future__ import annotations

from datetime import date

import duckdb

from shopverse_platform.lib.metrics import currencies
from shopverse_platform.lib.metrics.currencies import CurrencySettings
from shopverse_platform.lib.metrics.sources import (
    SALES_LINE_TYPES,
    purchase_events,
    replace_window,
    source,
)
from shopverse_platform.lib.warehouse.sql import SqlText, TableName, load_sql


def order_lines_sql(con: duckdb.DuckDBPyConnection, rates: TableName, purchases: TableName | SqlText) -> SqlText:
    """``order_lines.sql`` over the clean tables (or their empty shapes when never built), every
    purchase ``purchases`` (``sources.purchase_events``) and the rate table ``rates``
    (``currencies.load_rates``); parameters ``$start``, ``$end``, ``$sales_line_types`` and those of
    ``currencies.conversion_params``."""
    return load_sql(__file__, "order_lines", events=source(con, "clean_events"), exports=source(con, "clean_order_lines"),
                    rates=rates, all_purchases=purchases)


def build_order_lines(con: duckdb.DuckDBPyConnection, start: date, end: date,
                      settings: CurrencySettings | None = None, purchases: TableName | SqlText | None = None) -> int:
    """Replace the window's order lines; ``settings``: how amounts convert (default: no rate file, the
    currency of most revenue reports, exports in GBP); ``purchases``: ``sources.purchase_events(con)``
    when the caller has it already. Raises ``currencies.ExchangeRateError`` on a rate file that cannot
    be used."""
    settings = settings or CurrencySettings()
    if purchases is None:
        purchases = purchase_events(con)  # whether the observations are current, decided once
    reporting = currencies.reporting_currency(con, settings, purchases, source(con, "clean_order_lines"))
    rates = currencies.load_rates(con, settings, reporting)
    params = {"start": start, "end": end, "sales_line_types": list(SALES_LINE_TYPES),
              **currencies.conversion_params(settings, reporting)}
    return replace_window(con, "order_lines", "order_date", start, end, order_lines_sql(con, rates, purchases), params)


def build_orders(con: duckdb.DuckDBPyConnection, start: date, end: date) -> int:
    return replace_window(con, "orders", "order_date", start, end, load_sql(__file__, "orders"), {"start": start, "end": end})
