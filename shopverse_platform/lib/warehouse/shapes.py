"""The shapes of the tables several layers read: the clean tables' columns, as empty relations for
readers that run before a table was ever built (a shop with only order exports, or only events)."""

from __future__ import annotations

import duckdb

from shopverse_platform.lib.warehouse.tables import table_exists

# Empty relations shaped like the clean tables, for readers that run before a table was ever built.
ITEMS_TYPE = "STRUCT(item_id VARCHAR, item_name VARCHAR, item_category VARCHAR, price DOUBLE, quantity INTEGER)[]"

EMPTY_CLEAN_EVENTS = f"""SELECT NULL::VARCHAR AS event_id, NULL::VARCHAR AS event_name, NULL::TIMESTAMP AS event_ts,
    NULL::DATE AS event_date, NULL::VARCHAR AS user_id, NULL::VARCHAR AS anonymous_id, NULL::VARCHAR AS session_id,
    NULL::VARCHAR AS device, NULL::VARCHAR AS country, NULL::VARCHAR AS page, NULL::VARCHAR AS referrer,
    NULL::VARCHAR AS utm_source, NULL::{ITEMS_TYPE} AS items,
    NULL::DOUBLE AS value, NULL::VARCHAR AS currency, NULL::VARCHAR AS transaction_id WHERE false"""

EMPTY_CLEAN_ORDER_LINES = """SELECT NULL::VARCHAR AS invoice_no, NULL::TIMESTAMP AS invoice_ts, NULL::DATE AS invoice_date,
    NULL::VARCHAR AS stock_code, NULL::VARCHAR AS description, NULL::INTEGER AS quantity,
    NULL::DECIMAL(18,3) AS unit_price, NULL::DECIMAL(18,2) AS line_amount, NULL::VARCHAR AS customer_id,
    NULL::BOOLEAN AS is_guest, NULL::VARCHAR AS country, NULL::VARCHAR AS line_type, NULL::BOOLEAN AS is_cancellation,
    NULL::VARCHAR AS original_invoice_no, NULL::VARCHAR AS source_file, NULL::INTEGER AS line_number WHERE false"""


def relation(con: duckdb.DuckDBPyConnection, table: str) -> str:
    """The table, or an empty relation of the same shape when it was never built."""
    empty = {"clean_events": EMPTY_CLEAN_EVENTS, "clean_order_lines": EMPTY_CLEAN_ORDER_LINES}
    if table_exists(con, table):
        return table
    if table in empty:
        return f"({empty[table]})"
    raise LookupError(f"table {table} does not exist yet: materialize it first")
