"""Cleaning of order-export lines as DuckDB SQL: typed, classified, deduplicated, cancellations linked.

The order-export side of the cleaning layer (shop events are in ``lib/cleaning``): the same
contract, every raw row ends in the clean table or in the quarantine with a reason code, which
``cleaning.reconcile`` checks.
"""

from __future__ import annotations

from datetime import date

import duckdb

from shopverse_platform.lib.cleaning.event_schema import NON_PRODUCT_STOCK_CODES
from shopverse_platform.lib.warehouse import partition_fingerprints
from shopverse_platform.lib.warehouse.sql import SqlText, load_sql, table
from shopverse_platform.lib.warehouse.tables import create_table_if_missing, schema_change, table_exists, transaction


def write_clean_order_lines(con: duckdb.DuckDBPyConnection, start: date, end: date) -> dict[str, int]:
    """Type, classify, deduplicate and link the order-export lines of [start, end).

    - Cancellations (InvoiceNo starting with ``C``) stay as negative lines; each is linked to the
      latest earlier invoice of the same customer with the same stock code (the export carries no
      reference, so this is the standard as-of match), when there is one.
    - Lines without CustomerID are guest orders: kept, ``is_guest``.
    - Postage, fees and adjustments get a ``line_type`` other than ``product``.
    - An exact repeat of a line (every column equal), in the same or another export, is a duplicate;
      the copy kept is the one in the export that arrived first (modified first, as ingestion read it).
    - Quarantined with a reason: a line the reader could not split or a file it could not read
      (``malformed_line``, ``unreadable_export``), an unparseable InvoiceDate (``bad_invoice_date``),
      a Quantity or UnitPrice outside its domain (``quantity_out_of_domain``,
      ``price_out_of_domain``: typed_orders.sql), never coerced.
    """
    create_table_if_missing(con, "quarantine", load_sql(__file__, "quarantine_ddl"))
    for column in ("raw_orders_read_error", "raw_orders_raw_text"):  # raw_orders from before these columns
        con.execute(load_sql(__file__, column))
    arrivals = load_sql(__file__, "export_arrivals" if table_exists(con, "order_export_files") else "export_arrivals_empty")
    con.execute(
        load_sql(__file__, "typed_orders", arrivals=SqlText(f"({arrivals})")),
        {
            "start": start, "end": end,
            "non_product_codes": list(NON_PRODUCT_STOCK_CODES),
            "non_product_kinds": list(NON_PRODUCT_STOCK_CODES.values()),
        },
    )
    history = load_sql(__file__, "order_history" if table_exists(con, "clean_order_lines") else "order_history_empty")
    return _write_clean_and_quarantine(
        con, clean_table="clean_order_lines", clean_sql=load_sql(__file__, "clean_order_lines_rows", history=history),
        clean_params={"start": start}, source="orders", quarantine_sql=load_sql(__file__, "quarantine_orders_rows"),
        outcome_table="_typed_orders", start=start, end=end,
    )


def _write_clean_and_quarantine(
    con: duckdb.DuckDBPyConnection, *, clean_table: str, clean_sql: SqlText, clean_params: dict, source: str,
    quarantine_sql: SqlText, outcome_table: str, start: date, end: date,
) -> dict[str, int]:
    """Replace the window's clean rows and quarantined rows in one transaction, so a partition is
    never half clean, half quarantined; return the outcome counts by reason ('clean' for kept)."""
    # Created outside the transaction: see lib/warehouse.replace_date_range (a DuckDB 2.0.0 bug).
    target, window = table(clean_table), {"start": start, "end": end}
    if not table_exists(con, clean_table):
        schema_change(con, load_sql(__file__, "empty_table_like", target=target, rows=clean_sql), clean_params,
                      table=clean_table)
    partition_fingerprints.ensure_table(con)
    with transaction(con, writes=(clean_table, "quarantine", "partition_fingerprints")):
        con.execute(load_sql(__file__, "delete_window", target=target), window)
        con.execute(load_sql(__file__, "insert_rows", target=target, rows=clean_sql), clean_params)
        con.execute(load_sql(__file__, "delete_quarantine_window"), {**window, "source": source})
        con.execute(load_sql(__file__, "insert_rows", target=table("quarantine"), rows=quarantine_sql))
        partition_fingerprints.record(con, clean_table, start, end)
    counts = dict(con.execute(load_sql(__file__, "outcome_counts", outcome=table(outcome_table))).fetchall())
    return {k: int(v) for k, v in counts.items()}
