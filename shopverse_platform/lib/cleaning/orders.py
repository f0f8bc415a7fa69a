"""Cleaning of order-export lines as DuckDB SQL: typed, classified, deduplicated, cancellations linked.

The order-export side of the cleaning layer (shop events are in ``lib/cleaning``): the same
contract, every raw row ends in the clean table or in the quarantine with a reason code, which
``cleaning.reconcile`` checks.
"""

from __future__ import annotations

from datetime import date

import duckdb

from shopverse_platform.lib.cleaning.event_schema import NON_PRODUCT_STOCK_CODES
from shopverse_platform.lib.cleaning.events import QUARANTINE_DDL
from shopverse_platform.lib.warehouse.tables import table_exists


def _line_type_sql() -> str:
    cases = "\n".join(
        f"WHEN stock_code = '{code}' THEN '{kind}'" for code, kind in NON_PRODUCT_STOCK_CODES.items()
    )
    return f"""CASE {cases}
        WHEN lower(stock_code) LIKE 'gift\\_%' ESCAPE '\\' THEN 'gift_voucher'
        WHEN NOT is_cancellation AND quantity < 0 THEN 'stock_adjustment'
        ELSE 'product' END"""


def write_clean_order_lines(con: duckdb.DuckDBPyConnection, start: date, end: date) -> dict[str, int]:
    """Type, classify, deduplicate and link the order-export lines of [start, end).

    - Cancellations (InvoiceNo starting with ``C``) stay as negative lines; each is linked to the
      latest earlier invoice of the same customer with the same stock code (the export carries no
      reference, so this is the standard as-of match), when there is one.
    - Lines without CustomerID are guest orders: kept, ``is_guest``.
    - Postage, fees and adjustments get a ``line_type`` other than ``product``.
    - An exact repeat of a line (every column equal), in the same or another export, is a duplicate.
    """
    con.execute(QUARANTINE_DDL)
    history = (
        "SELECT invoice_no, invoice_ts, customer_id, stock_code FROM clean_order_lines "
        "WHERE partition_date < $start AND NOT is_cancellation AND customer_id IS NOT NULL"
        if table_exists(con, "clean_order_lines")
        else "SELECT NULL::VARCHAR, NULL::TIMESTAMP, NULL::VARCHAR, NULL::VARCHAR WHERE CAST($start AS DATE) IS NULL"
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _typed_orders AS
        WITH typed AS (
            SELECT partition_date, source_file, line_number,
                   trim(invoice_no) AS invoice_no, trim(stock_code) AS stock_code, trim(description) AS description,
                   try_cast(quantity AS INTEGER) AS quantity,
                   coalesce(try_strptime(invoice_date, '%Y-%m-%d %H:%M:%S'),
                            try_strptime(invoice_date, '%Y-%m-%d %H:%M'),
                            try_strptime(invoice_date, '%m/%d/%Y %H:%M')) AS invoice_ts,
                   try_cast(unit_price AS DECIMAL(18, 3)) AS unit_price,
                   nullif(regexp_replace(trim(customer_id), '\\.0+$', ''), '') AS customer_id,
                   trim(country) AS country,
                   upper(trim(invoice_no)) LIKE 'C%' AS is_cancellation,
                   to_json({{InvoiceNo: invoice_no, StockCode: stock_code, Description: description,
                            Quantity: quantity, InvoiceDate: invoice_date, UnitPrice: unit_price,
                            CustomerID: customer_id, Country: country}}) AS raw_line
            FROM raw_orders WHERE partition_date >= $start AND partition_date < $end
        ),
        classified AS (SELECT *, {_line_type_sql()} AS line_type FROM typed),
        judged AS (
            SELECT *, CASE
                WHEN invoice_no IS NULL OR invoice_no = '' OR stock_code IS NULL OR quantity IS NULL
                     OR invoice_ts IS NULL OR unit_price IS NULL THEN 'schema_violation'
                WHEN unit_price < 0 AND line_type = 'product' THEN 'invalid_price'
                END AS reason_code
            FROM classified
        ),
        ranked AS (
            SELECT *, CASE WHEN reason_code IS NULL THEN row_number() OVER (
                PARTITION BY reason_code IS NULL, invoice_no, stock_code, description, quantity, invoice_ts,
                             unit_price, customer_id, country
                ORDER BY partition_date, source_file, line_number) END AS delivery_rank
            FROM judged
        )
        SELECT * REPLACE (CASE WHEN reason_code IS NULL AND delivery_rank > 1 THEN 'duplicate_line'
                               ELSE reason_code END AS reason_code)
        FROM ranked
        """,
        {"start": start, "end": end},
    )
    sales_sql = f"""
        SELECT invoice_no, invoice_ts, customer_id, stock_code FROM _typed_orders
        WHERE reason_code IS NULL AND NOT is_cancellation AND customer_id IS NOT NULL
        UNION ALL ({history})
    """
    links_sql = f"""
        SELECT c.source_file, c.line_number, s.invoice_no AS original_invoice_no
        FROM (SELECT * FROM _typed_orders WHERE reason_code IS NULL AND is_cancellation) c
        ASOF JOIN ({sales_sql}) s
            ON c.customer_id = s.customer_id AND c.stock_code = s.stock_code AND c.invoice_ts >= s.invoice_ts
    """
    clean_sql = f"""
        SELECT o.invoice_no, o.invoice_ts, CAST(o.invoice_ts AS DATE) AS invoice_date,
               o.stock_code, o.description, o.quantity, o.unit_price,
               CAST(o.quantity * o.unit_price AS DECIMAL(18, 2)) AS line_amount,
               o.customer_id, o.customer_id IS NULL AS is_guest, o.country, o.line_type,
               o.is_cancellation, l.original_invoice_no,
               o.partition_date, o.source_file, o.line_number
        FROM (SELECT * FROM _typed_orders WHERE reason_code IS NULL) o
        LEFT JOIN ({links_sql}) l USING (source_file, line_number)
    """
    quarantine_sql = """
        SELECT 'orders' AS source, partition_date, source_file, line_number, reason_code,
               CASE reason_code
                   WHEN 'schema_violation' THEN 'unparseable or missing invoice, stock code, quantity, date or price'
                   WHEN 'invalid_price' THEN 'negative unit price on a product line'
                   WHEN 'duplicate_line' THEN 'exact repeat of an earlier line'
               END AS reason_detail,
               invoice_no AS record_key, raw_line
        FROM _typed_orders WHERE reason_code IS NOT NULL
    """
    return _write_clean_and_quarantine(
        con, clean_table="clean_order_lines", clean_sql=clean_sql, clean_params={"start": start}, source="orders",
        quarantine_sql=quarantine_sql, outcome_table="_typed_orders", start=start, end=end,
    )


def _write_clean_and_quarantine(
    con: duckdb.DuckDBPyConnection, *, clean_table: str, clean_sql: str, clean_params: dict, source: str,
    quarantine_sql: str, outcome_table: str, start: date, end: date,
) -> dict[str, int]:
    """Replace the window's clean rows and quarantined rows in one transaction, so a partition is
    never half clean, half quarantined; return the outcome counts by reason ('clean' for kept)."""
    # Created outside the transaction: see lib/warehouse.replace_date_range (a DuckDB 2.0.0 bug).
    if not table_exists(con, clean_table):
        con.execute(f"CREATE TABLE {clean_table} AS {clean_sql} LIMIT 0", clean_params)
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(f"DELETE FROM {clean_table} WHERE partition_date >= ? AND partition_date < ?", [start, end])
        con.execute(f"INSERT INTO {clean_table} BY NAME {clean_sql}", clean_params)
        con.execute(
            "DELETE FROM quarantine WHERE source = ? AND partition_date >= ? AND partition_date < ?", [source, start, end]
        )
        con.execute(f"INSERT INTO quarantine BY NAME {quarantine_sql}")
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    counts = dict(
        con.execute(f"SELECT coalesce(reason_code, 'clean'), count(*) FROM {outcome_table} GROUP BY ALL").fetchall()
    )
    return {k: int(v) for k, v in counts.items()}
