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
"""

from __future__ import annotations

from datetime import date

import duckdb

from shopverse_platform.lib.metrics.sources import (
    SALES_LINE_TYPES,
    replace_window,
    sql_list,
)
from shopverse_platform.lib.warehouse.shapes import relation

MONEY = "DECIMAL(18,2)"


def _event_lines_sql(events: str) -> str:
    return f"""
    WITH purchases AS (
        SELECT *, coalesce(transaction_id, event_id) AS txn FROM {events}
        WHERE event_name = 'purchase' AND event_date >= $start AND event_date < $end
    ),
    earliest AS (  -- the earliest purchase event of each transaction, wherever it landed (narrow columns)
        SELECT event_id FROM {events}
        WHERE event_name = 'purchase' AND event_date < $end
        QUALIFY row_number() OVER (PARTITION BY coalesce(transaction_id, event_id) ORDER BY event_ts, event_id) = 1
    ),
    first_purchases AS (SELECT p.* FROM purchases p SEMI JOIN earliest USING (event_id)),
    documents AS (
        SELECT event_id, event_ts, event_date, user_id, anonymous_id, session_id, device, country, items,
               'order' AS document_type, txn AS document_id, txn AS order_id
        FROM first_purchases
        UNION ALL
        SELECT event_id, event_ts, event_date, user_id, anonymous_id, session_id, device, country, items,
               'refund', event_id, transaction_id
        FROM {events} WHERE event_name = 'refund' AND event_date >= $start AND event_date < $end
    ),
    lines AS (
        SELECT *, unnest(items) AS item, generate_subscripts(items, 1) AS line_no FROM documents
    )
    SELECT event_date AS order_date, event_ts AS order_ts, 'events' AS source, document_id, document_type, order_id,
           CAST(line_no AS INTEGER) AS line_no, user_id AS customer_id, user_id IS NULL AS is_guest,
           anonymous_id, session_id, device, country,
           item.item_id AS product_id, item.item_name AS product_name, item.item_category AS category,
           'product' AS line_type, true AS is_product, true AS is_sales,
           CAST(CASE WHEN document_type = 'order' THEN 1 ELSE -1 END * coalesce(item.quantity, 1) AS INTEGER) AS quantity,
           CAST(item.price AS DECIMAL(18,3)) AS unit_price,
           CAST(round(CASE WHEN document_type = 'order' THEN 1 ELSE -1 END * item.price * coalesce(item.quantity, 1), 2)
                AS {MONEY}) AS line_amount,
           event_id AS source_record
    FROM lines
    """


def _export_lines_sql(exports: str) -> str:
    return f"""
    SELECT invoice_date AS order_date, invoice_ts AS order_ts, 'order_export' AS source, invoice_no AS document_id,
           CASE WHEN is_cancellation THEN 'cancellation' ELSE 'order' END AS document_type,
           CASE WHEN is_cancellation THEN original_invoice_no ELSE invoice_no END AS order_id,
           CAST(row_number() OVER (PARTITION BY invoice_no ORDER BY source_file, line_number) AS INTEGER) AS line_no,
           customer_id, is_guest, NULL::VARCHAR AS anonymous_id, NULL::VARCHAR AS session_id, NULL::VARCHAR AS device,
           country, stock_code AS product_id, description AS product_name, NULL::VARCHAR AS category,
           line_type, line_type = 'product' AS is_product, line_type IN {sql_list(SALES_LINE_TYPES)} AS is_sales,
           quantity, unit_price, CAST(line_amount AS {MONEY}) AS line_amount,
           source_file || ':' || line_number AS source_record
    FROM {exports}
    WHERE invoice_date >= $start AND invoice_date < $end
    """


def order_lines_sql(con: duckdb.DuckDBPyConnection) -> str:
    events, exports = relation(con, "clean_events"), relation(con, "clean_order_lines")
    return f"""
    WITH unioned AS (({_event_lines_sql(events)}) UNION ALL BY NAME ({_export_lines_sql(exports)})),
    amounts AS (
        SELECT *,
               CAST(CASE WHEN document_type = 'order' THEN line_amount ELSE 0 END AS {MONEY}) AS gross_amount,
               CAST(CASE WHEN document_type = 'order' THEN 0 ELSE -line_amount END AS {MONEY}) AS credited_amount,
               line_amount AS net_amount
        FROM unioned
    )
    SELECT *,
           -- the document bills something: invoices of zero-priced stock movements are not orders
           document_type = 'order'
               AND sum(CASE WHEN is_sales THEN gross_amount ELSE 0 END) OVER (PARTITION BY source, document_id) > 0
               AS in_order
    FROM amounts
    """


def build_order_lines(con: duckdb.DuckDBPyConnection, start: date, end: date) -> int:
    return replace_window(con, "order_lines", "order_date", start, end, order_lines_sql(con), {"start": start, "end": end})


ORDERS_SQL = f"""
SELECT min(order_date) AS order_date, min(order_ts) AS order_ts, source, document_id,
       any_value(document_type) AS document_type,
       CASE WHEN any_value(document_type) = 'order' THEN document_id
            WHEN count(DISTINCT order_id) = 1 THEN min(order_id) END AS order_id,
       list_sort(list(DISTINCT order_id) FILTER (WHERE order_id IS NOT NULL)) AS credited_order_ids,
       any_value(customer_id) AS customer_id, bool_and(is_guest) AS is_guest, any_value(anonymous_id) AS anonymous_id,
       any_value(session_id) AS session_id, any_value(device) AS device, any_value(country) AS country,
       count(*) AS lines,
       count(*) FILTER (WHERE is_product) AS product_lines,
       CAST(coalesce(sum(abs(quantity)) FILTER (WHERE is_product), 0) AS BIGINT) AS units,
       count(DISTINCT product_id) FILTER (WHERE is_product) AS products,
       CAST(coalesce(sum(gross_amount) FILTER (WHERE is_sales), 0) AS {MONEY}) AS gross_amount,
       CAST(coalesce(sum(credited_amount) FILTER (WHERE is_sales), 0) AS {MONEY}) AS credited_amount,
       CAST(coalesce(sum(net_amount) FILTER (WHERE is_sales), 0) AS {MONEY}) AS net_amount,
       CAST(coalesce(sum(net_amount) FILTER (WHERE NOT is_sales), 0) AS {MONEY}) AS other_amount,
       bool_or(in_order) AS is_order,
       any_value(document_type) <> 'order' AND coalesce(sum(credited_amount) FILTER (WHERE is_sales), 0) > 0 AS is_credit
FROM order_lines
WHERE order_date >= $start AND order_date < $end
GROUP BY source, document_id
"""


def build_orders(con: duckdb.DuckDBPyConnection, start: date, end: date) -> int:
    return replace_window(con, "orders", "order_date", start, end, ORDERS_SQL, {"start": start, "end": end})
