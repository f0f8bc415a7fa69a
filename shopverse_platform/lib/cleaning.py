"""Cleaning rules as DuckDB SQL: typing, UTC normalisation, quarantine, deduplication, sessions.

Pure SQL builders and one function per table, no Dagster objects. Every raw row ends in exactly one
place: the clean table, the quarantine with a reason code, or the quarantine as a duplicate
(reason ``duplicate_event``/``duplicate_line``), which the reconciliation checks rely on.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date

import duckdb

from shopverse_platform.lib.events import (
    EVENT_STRUCTURE,
    EVENT_TYPES,
    ITEM_EVENTS,
    LEGACY_EVENT_NAMES,
    MONETARY_EVENTS,
    NON_PRODUCT_STOCK_CODES,
)
from shopverse_platform.lib.warehouse import replace_date_range, table_exists

SESSION_TIMEOUT_MINUTES = 30

# Empty relations shaped like the clean tables, for readers that run before a table was ever built.
ITEMS_TYPE = "STRUCT(item_id VARCHAR, item_name VARCHAR, item_category VARCHAR, price DOUBLE, quantity INTEGER)[]"

EMPTY_CLEAN_EVENTS = f"""SELECT NULL::VARCHAR AS event_id, NULL::VARCHAR AS event_name, NULL::TIMESTAMP AS event_ts,
    NULL::DATE AS event_date, NULL::VARCHAR AS user_id, NULL::VARCHAR AS anonymous_id, NULL::VARCHAR AS session_id,
    NULL::VARCHAR AS device, NULL::VARCHAR AS country, NULL::VARCHAR AS page, NULL::VARCHAR AS referrer,
    NULL::VARCHAR AS utm_source, NULL::{ITEMS_TYPE} AS items,
    NULL::DOUBLE AS value, NULL::VARCHAR AS transaction_id WHERE false"""

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



@dataclass(frozen=True)
class EventRules:
    """Tolerances for event timestamps relative to the landing day they arrived in."""

    future_tolerance_hours: int = 24
    max_lateness_days: int = 30


def _sql_list(values: tuple[str, ...] | list[str]) -> str:
    return "[" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + "]"


def _legacy_map_sql() -> str:
    keys = list(LEGACY_EVENT_NAMES)
    return f"MAP({_sql_list(keys)}, {_sql_list([LEGACY_EVENT_NAMES[k] for k in keys])})"


QUARANTINE_DDL = """
CREATE TABLE IF NOT EXISTS quarantine (
    source VARCHAR NOT NULL,          -- 'events' or 'orders'
    partition_date DATE NOT NULL,
    source_file VARCHAR,
    line_number INTEGER,
    reason_code VARCHAR NOT NULL,
    reason_detail VARCHAR,
    record_key VARCHAR,               -- event_id / invoice number when one could be read
    raw_line VARCHAR
)
"""


def parse_events(con: duckdb.DuckDBPyConnection, start: date, end: date, rules: EventRules) -> None:
    """Parse the raw lines of [start, end) into the temp table ``_parsed_events``.

    Each row gets either a NULL ``reason_code`` (valid) or the first rule it breaks, then
    duplicates among the valid rows are marked: within the window by first delivery
    (landing day, file, line) and against events already clean from earlier days.
    """
    structure = json.dumps(EVENT_STRUCTURE)
    history = (
        "SELECT event_id FROM clean_events WHERE partition_date < $start"
        if table_exists(con, "clean_events")
        else "SELECT NULL::VARCHAR AS event_id WHERE false"
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _parsed_events AS
        WITH src AS (
            SELECT partition_date, source_file, line_number, encoding_error,
                   -- only objects qualify; json_valid first because TRY(json_transform(...))
                   -- measured 5x slower than this guard (it drops DuckDB's vectorised path)
                   CASE WHEN NOT encoding_error AND ltrim(raw_line) LIKE '{{%' AND json_valid(raw_line)
                        THEN json_transform(raw_line, '{structure}') END AS j
            FROM raw_events
            WHERE partition_date >= $start AND partition_date < $end
        ),
        normalised AS (
            SELECT partition_date, source_file, line_number, encoding_error, j,
                   coalesce(j.event_name, j.event_type) AS raw_event_name,
                   coalesce({_legacy_map_sql()}[coalesce(j.event_name, j.event_type)],
                            coalesce(j.event_name, j.event_type)) AS event_name,
                   coalesce(j.event_name, j.event_type) IN {tuple(LEGACY_EVENT_NAMES)}
                       OR (j.event_name IS NULL AND j.event_type IS NOT NULL) AS is_legacy,
                   j.event_id AS event_id,
                   CASE WHEN regexp_matches(j.event_time, '^\\d{{4}}-\\d{{2}}-\\d{{2}}[T ]\\d{{2}}:\\d{{2}}(:\\d{{2}}(\\.\\d+)?)?(Z|[+-]\\d{{2}}(:?\\d{{2}})?)$')
                        THEN try_cast(j.event_time AS TIMESTAMPTZ) AT TIME ZONE 'UTC' END AS event_ts,
                   coalesce(j.anonymous_id, j.device_id) AS anonymous_id,
                   CASE WHEN len(j.items) > 0 THEN j.items
                        WHEN j.product_id IS NOT NULL THEN [{{
                            'item_id': j.product_id, 'item_name': j.product_name,
                            'item_category': j.category, 'price': j.price,
                            'quantity': coalesce(j.quantity, 1)}}]
                        ELSE [] END AS items
            FROM src
        ),
        judged AS (
            SELECT *,
                CASE
                    WHEN encoding_error THEN 'invalid_encoding'
                    WHEN j IS NULL THEN 'malformed_json'
                    WHEN event_id IS NULL OR trim(event_id) = '' OR raw_event_name IS NULL
                         OR j.event_time IS NULL OR anonymous_id IS NULL THEN 'schema_violation'
                    WHEN event_name NOT IN {tuple(EVENT_TYPES)} THEN 'unknown_event_type'
                    WHEN event_ts IS NULL THEN 'bad_timestamp'
                    WHEN event_ts >= partition_date + INTERVAL 1 DAY + INTERVAL ({rules.future_tolerance_hours}) HOUR
                         OR event_ts > now() AT TIME ZONE 'UTC' + INTERVAL 1 HOUR THEN 'future_timestamp'
                    WHEN event_ts < partition_date - INTERVAL ({rules.max_lateness_days}) DAY THEN 'ancient_timestamp'
                    WHEN event_name IN {tuple(ITEM_EVENTS)} AND len(items) = 0 THEN 'missing_items'
                    WHEN event_name IN {tuple(MONETARY_EVENTS)}
                         AND (len(items) = 0 OR list_bool_or([i.price IS NULL OR i.price < 0 FOR i IN items]))
                         THEN 'invalid_price'
                END AS reason_code
            FROM normalised
        ),
        ranked AS (
            SELECT *,
                   CASE WHEN reason_code IS NULL THEN row_number() OVER (
                        PARTITION BY event_id, reason_code IS NULL
                        ORDER BY partition_date, source_file, line_number) END AS delivery_rank
            FROM judged
        )
        SELECT r.partition_date, r.source_file, r.line_number, r.event_id, r.event_name, r.raw_event_name,
               r.is_legacy, r.event_ts, r.anonymous_id, r.items, r.j.event_time AS event_time_text,
               r.j.user_id AS user_id, r.j.session_id AS tracker_session_id, r.j.page AS page,
               r.j.referrer AS referrer, r.j.utm_source AS utm_source, r.j.utm_medium AS utm_medium,
               r.j.utm_campaign AS utm_campaign, r.j.search_term AS search_term, r.j.device AS device,
               r.j.country AS country, r.j.value AS value, r.j.currency AS currency,
               r.j.transaction_id AS transaction_id,
               CASE WHEN r.reason_code IS NULL AND (r.delivery_rank > 1 OR h.event_id IS NOT NULL)
                    THEN 'duplicate_event' ELSE r.reason_code END AS reason_code
        FROM ranked r
        LEFT JOIN (SELECT DISTINCT event_id FROM ({history})) h
               ON r.reason_code IS NULL AND r.event_id = h.event_id
        """,
        {"start": start, "end": end},
    )


def _reason_detail_sql() -> str:
    return """CASE reason_code
        WHEN 'malformed_json' THEN 'not a JSON object'
        WHEN 'invalid_encoding' THEN 'invalid UTF-8 bytes'
        WHEN 'schema_violation' THEN 'missing: ' || concat_ws(', ',
             CASE WHEN event_id IS NULL OR trim(event_id) = '' THEN 'event_id' END,
             CASE WHEN raw_event_name IS NULL THEN 'event_name' END,
             CASE WHEN event_time_text IS NULL THEN 'event_time' END,
             CASE WHEN anonymous_id IS NULL THEN 'anonymous_id' END)
        WHEN 'unknown_event_type' THEN 'event_name=' || raw_event_name
        WHEN 'bad_timestamp' THEN 'event_time=' || event_time_text
        WHEN 'future_timestamp' THEN 'event_time=' || event_time_text || ' landing day=' || partition_date
        WHEN 'ancient_timestamp' THEN 'event_time=' || event_time_text || ' landing day=' || partition_date
        WHEN 'missing_items' THEN event_name || ' without items'
        WHEN 'invalid_price' THEN 'prices=' || CAST([i.price FOR i IN items] AS VARCHAR)
        WHEN 'duplicate_event' THEN 'event_id ' || event_id || ' already delivered'
    END"""


def write_clean_events(con: duckdb.DuckDBPyConnection, start: date, end: date) -> dict[str, int]:
    """Write clean rows and quarantined rows of [start, end) from ``_parsed_events``, sessionised."""
    con.execute(QUARANTINE_DDL)
    has_history = table_exists(con, "clean_events")
    context = (
        f"""SELECT event_id, anonymous_id, event_ts, session_id AS context_session_id FROM clean_events
            WHERE partition_date < $start AND session_source = 'platform'
              AND event_ts >= CAST($start AS TIMESTAMP) - INTERVAL {SESSION_TIMEOUT_MINUTES} MINUTE"""
        if has_history
        else "SELECT NULL::VARCHAR, NULL::VARCHAR, NULL::TIMESTAMP, NULL::VARCHAR WHERE CAST($start AS DATE) IS NULL"
    )
    # Sessionise events the tracker sent without a session_id: a new session starts after 30
    # minutes of inactivity per device. The id hashes the device and the session's first event, so
    # reruns give the same ids; a session continuing from the previous day keeps that day's id.
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _sessionised AS
        WITH needs AS (
            SELECT event_id, anonymous_id, event_ts, NULL::VARCHAR AS context_session_id
            FROM _parsed_events WHERE reason_code IS NULL AND tracker_session_id IS NULL
            UNION ALL ({context})
        ),
        gaps AS (
            SELECT *, CASE WHEN lag(event_ts) OVER w IS NULL
                             OR event_ts - lag(event_ts) OVER w > INTERVAL {SESSION_TIMEOUT_MINUTES} MINUTE
                           THEN 1 ELSE 0 END AS starts_session
            FROM needs WINDOW w AS (PARTITION BY anonymous_id ORDER BY event_ts, event_id)
        ),
        numbered AS (
            SELECT *, sum(starts_session) OVER (PARTITION BY anonymous_id ORDER BY event_ts, event_id
                                                ROWS UNBOUNDED PRECEDING) AS session_seq
            FROM gaps
        ),
        firsts AS (
            SELECT anonymous_id, session_seq,
                   arg_min(coalesce(context_session_id,
                                    'sv-' || substr(md5(anonymous_id || '|' || event_id), 1, 20)),
                           (event_ts, event_id)) AS session_id
            FROM numbered GROUP BY ALL
        )
        SELECT n.event_id, f.session_id FROM numbered n JOIN firsts f USING (anonymous_id, session_seq)
        WHERE n.context_session_id IS NULL
        """,
        {"start": start},
    )
    clean_sql = """
        SELECT p.event_id, p.event_name, p.event_ts, CAST(p.event_ts AS DATE) AS event_date,
               p.user_id, p.anonymous_id,
               coalesce(p.tracker_session_id, s.session_id) AS session_id,
               CASE WHEN p.tracker_session_id IS NULL THEN 'platform' ELSE 'tracker' END AS session_source,
               p.page, p.referrer, p.utm_source, p.utm_medium, p.utm_campaign,
               p.search_term, lower(p.device) AS device, upper(p.country) AS country,
               p.items, p.value, coalesce(p.currency, 'GBP') AS currency,
               p.transaction_id, p.is_legacy,
               p.partition_date, p.source_file, p.line_number
        FROM _parsed_events p LEFT JOIN _sessionised s USING (event_id)
        WHERE p.reason_code IS NULL
    """
    quarantine_sql = f"""
        SELECT 'events' AS source, partition_date, source_file, line_number, reason_code,
               {_reason_detail_sql()} AS reason_detail, event_id AS record_key, r.raw_line
        FROM (SELECT * FROM _parsed_events WHERE reason_code IS NOT NULL)
        JOIN raw_events r USING (partition_date, source_file, line_number)
    """
    return _write_clean_and_quarantine(
        con, clean_table="clean_events", clean_sql=clean_sql, clean_params={}, source="events",
        quarantine_sql=quarantine_sql, outcome_table="_parsed_events", start=start, end=end,
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


def reconcile(con: duckdb.DuckDBPyConnection, source: str, start: date, end: date) -> dict[str, int]:
    """Count raw, clean, quarantined and duplicate rows of [start, end) from the stored tables."""
    raw_table, clean_table, duplicate_reason = {
        "events": ("raw_events", "clean_events", "duplicate_event"),
        "orders": ("raw_orders", "clean_order_lines", "duplicate_line"),
    }[source]
    window = "partition_date >= $start AND partition_date < $end"
    raw, clean, quarantined, duplicates = con.execute(
        f"""SELECT (SELECT count(*) FROM {raw_table} WHERE {window}),
                   (SELECT count(*) FROM {clean_table} WHERE {window}),
                   (SELECT count(*) FROM quarantine WHERE source = $source AND {window} AND reason_code <> $dup),
                   (SELECT count(*) FROM quarantine WHERE source = $source AND {window} AND reason_code = $dup)""",
        {"start": start, "end": end, "source": source, "dup": duplicate_reason},
    ).fetchone()
    return {"raw": raw, "clean": clean, "quarantined": quarantined, "duplicates": duplicates}


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


__all__ = [
    "EventRules",
    "parse_events",
    "write_clean_events",
    "write_clean_order_lines",
    "reconcile",
    "replace_date_range",
]
