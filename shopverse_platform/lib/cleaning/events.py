"""Cleaning rules as DuckDB SQL: typing, UTC normalisation, quarantine, deduplication, sessions.

Shop events here; order-export lines in ``lib/order_cleaning``. Pure SQL builders and one
function per table, no Dagster objects. Every raw row ends in exactly one
place: the clean table, the quarantine with a reason code, or the quarantine as a duplicate
(reason ``duplicate_event``/``duplicate_line``), which the reconciliation checks rely on.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

import duckdb
import pyarrow as pa

from shopverse_platform.lib.cleaning.event_schema import (
    EVENT_STRUCTURE,
    EVENT_TYPES,
    ITEM_EVENTS,
    LEGACY_EVENT_NAMES,
    MONETARY_EVENTS,
)
from shopverse_platform.lib.warehouse.shapes import ITEMS_TYPE
from shopverse_platform.lib.warehouse.tables import replace_date_range

SESSION_TIMEOUT_MINUTES = 30

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


CLEAN_EVENTS_DDL = f"""
CREATE TABLE IF NOT EXISTS clean_events (
    event_id VARCHAR, event_name VARCHAR, event_ts TIMESTAMP, event_date DATE, user_id VARCHAR,
    anonymous_id VARCHAR, session_id VARCHAR, session_source VARCHAR, page VARCHAR, referrer VARCHAR,
    utm_source VARCHAR, utm_medium VARCHAR, utm_campaign VARCHAR, search_term VARCHAR, device VARCHAR,
    country VARCHAR, items {ITEMS_TYPE}, value DOUBLE, currency VARCHAR, transaction_id VARCHAR,
    is_legacy BOOLEAN, partition_date DATE, source_file VARCHAR, line_number INTEGER
)
"""


def clean_event_lines(
    con: duckdb.DuckDBPyConnection, chunks: Iterable[tuple[date, date, pa.Table]], rules: EventRules,
) -> dict[str, int]:
    """Replace the clean events and the events quarantine of a window from landing lines.

    ``chunks`` yields (first day, day after the last, lines) for consecutive groups of whole days
    that tile the window, in delivery order, with lines shaped like ``landing.EVENT_LINE_SCHEMA``.
    Each group is cleaned and replaced in its own transaction before the next is read, so memory is
    bounded by a group, not by the window (1M events: 1.9 GB peak in one transaction, 1.3 GB in
    256 MB groups), and every day is all or nothing. If a group fails, the groups before it stay
    replaced and the rest keep their previous rows; rerunning the window makes it whole. Returns
    the outcome counts by reason ('clean' for kept rows).
    """
    con.execute(QUARANTINE_DDL)
    con.execute(CLEAN_EVENTS_DDL)  # outside the transaction: see lib/warehouse.replace_date_range
    # Rows carry their own keys and every reader orders explicitly: letting DuckDB write them in
    # any order makes the inserts parallel (measured 4.0 s -> 2.2 s on the old 1M-line raw write).
    con.execute("SET preserve_insertion_order = false")
    outcome: dict[str, int] = {}
    for chunk_start, chunk_end, lines in chunks:
        con.register("_landed_lines", lines)
        del lines  # DuckDB holds it until unregistered: one group's lines in memory at a time
        con.execute("BEGIN TRANSACTION")
        try:
            for table, extra in (("clean_events", ""), ("quarantine", "source = 'events' AND ")):
                con.execute(f"DELETE FROM {table} WHERE {extra}partition_date >= ? AND partition_date < ?", [chunk_start, chunk_end])
            _parse_events(con, chunk_start, chunk_end, rules)
            _mark_duplicate_events(con, chunk_start, rules)
            con.unregister("_landed_lines")  # the last use of the lines: free them before the write
            _sessionise(con, chunk_start)
            _write_events(con)
            counts = con.execute("SELECT coalesce(reason_code, 'clean'), count(*) FROM _parsed_events GROUP BY ALL").fetchall()
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            con.unregister("_landed_lines")
            raise
        con.execute("DROP TABLE _parsed_events; DROP TABLE _duplicate_lines; DROP TABLE _sessionised")
        for reason, count in counts:
            outcome[reason] = outcome.get(reason, 0) + int(count)
    return outcome


def _parse_events(con: duckdb.DuckDBPyConnection, start: date, end: date, rules: EventRules) -> None:
    """Parse ``_landed_lines`` into the temp table ``_parsed_events``: typed fields and either a NULL
    ``reason_code`` (valid so far) or the first rule the line breaks. The verbatim line is kept
    only for rejected rows (it goes to the quarantine); clean rows point at it by file and line."""
    structure = json.dumps(EVENT_STRUCTURE)
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _parsed_events AS
        WITH src AS (
            SELECT partition_date, source_file, line_number, encoding_error, raw_line,
                   -- only objects qualify; json_valid first because TRY(json_transform(...))
                   -- measured 5x slower than this guard (it drops DuckDB's vectorised path)
                   CASE WHEN NOT encoding_error AND (starts_with(raw_line, '{{') OR ltrim(raw_line) LIKE '{{%')
                             AND json_valid(raw_line)
                        THEN json_transform(raw_line, '{structure}') END AS j
            FROM _landed_lines
        ),
        normalised AS (
            SELECT partition_date, source_file, line_number, encoding_error, raw_line, j,
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
        )
        SELECT partition_date, source_file, line_number, event_id, event_name, raw_event_name,
               is_legacy, event_ts, anonymous_id, items, j.event_time AS event_time_text,
               j.user_id AS user_id, j.session_id AS tracker_session_id, j.page AS page,
               j.referrer AS referrer, j.utm_source AS utm_source, j.utm_medium AS utm_medium,
               j.utm_campaign AS utm_campaign, j.search_term AS search_term, j.device AS device,
               j.country AS country, j.value AS value, j.currency AS currency,
               j.transaction_id AS transaction_id, reason_code,
               CASE WHEN reason_code IS NOT NULL THEN raw_line END AS raw_line
        FROM judged
        WHERE partition_date >= $start AND partition_date < $end
        """,
        {"start": start, "end": end},
    )


def history_start(start: date, rules: EventRules) -> date:
    """The earliest landing day that can hold an earlier delivery of an event landing on or after
    ``start``: a re-delivery passes only if stamped at most ``max_lateness_days`` before its landing
    day, and the first delivery landed at most a day plus the future tolerance after the stamp."""
    return start - timedelta(days=rules.max_lateness_days + 2 + math.ceil(rules.future_tolerance_hours / 24))


def _mark_duplicate_events(con: duckdb.DuckDBPyConnection, start: date, rules: EventRules) -> None:
    """Re-deliveries of an event become ``duplicate_event``: a later line of the same event_id in
    these days (the first delivery by landing day, file and line wins), or an event_id already
    clean from an earlier day. Their verbatim lines are fetched for the quarantine."""
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE _duplicate_lines AS
        WITH valid AS (
            SELECT rowid AS parsed_row, event_id, partition_date, source_file, line_number
            FROM _parsed_events WHERE reason_code IS NULL
        ),
        repeated AS (
            SELECT parsed_row, partition_date, source_file, line_number FROM valid
            WHERE event_id IN (SELECT event_id FROM valid GROUP BY event_id HAVING count(*) > 1)
            QUALIFY row_number() OVER (PARTITION BY event_id ORDER BY partition_date, source_file, line_number) > 1
        ),
        seen_before AS (
            SELECT parsed_row, partition_date, source_file, line_number FROM valid
            WHERE event_id IN (SELECT event_id FROM clean_events WHERE partition_date >= $history AND partition_date < $start)
        )
        SELECT d.*, l.raw_line
        FROM (SELECT * FROM repeated UNION SELECT * FROM seen_before) d
        JOIN _landed_lines l USING (partition_date, source_file, line_number)
        """,
        {"start": start, "history": history_start(start, rules)},
    )
    con.execute(
        """
        UPDATE _parsed_events p SET reason_code = 'duplicate_event', raw_line = d.raw_line
        FROM _duplicate_lines d WHERE p.rowid = d.parsed_row
        """
    )


def _sessionise(con: duckdb.DuckDBPyConnection, start: date) -> None:
    """Session ids for valid events the tracker sent without one, into ``_sessionised``: a new
    session starts after 30 minutes of inactivity per device. The id hashes the device and the
    session's first event, so reruns give the same ids; a session continuing from the previous
    day keeps that day's id."""
    context = f"""SELECT NULL::BIGINT, event_id, anonymous_id, event_ts, session_id AS context_session_id FROM clean_events
        WHERE partition_date < $start AND session_source = 'platform'
          AND event_ts >= CAST($start AS TIMESTAMP) - INTERVAL {SESSION_TIMEOUT_MINUTES} MINUTE"""
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _sessionised AS
        WITH needs AS (
            -- rowid: the row of _parsed_events, a cheaper join key than the event_id string
            SELECT rowid AS parsed_row, event_id, anonymous_id, event_ts, NULL::VARCHAR AS context_session_id
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
        SELECT n.parsed_row, f.session_id FROM numbered n JOIN firsts f USING (anonymous_id, session_seq)
        WHERE n.context_session_id IS NULL
        """,
        {"start": start},
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


def _write_events(con: duckdb.DuckDBPyConnection) -> None:
    """Append the clean rows and the quarantined rows of ``_parsed_events``."""
    con.execute(
        """
        INSERT INTO clean_events BY NAME
        SELECT p.event_id, p.event_name, p.event_ts, CAST(p.event_ts AS DATE) AS event_date,
               p.user_id, p.anonymous_id,
               coalesce(p.tracker_session_id, s.session_id) AS session_id,
               CASE WHEN p.tracker_session_id IS NULL THEN 'platform' ELSE 'tracker' END AS session_source,
               p.page, p.referrer, p.utm_source, p.utm_medium, p.utm_campaign,
               p.search_term, lower(p.device) AS device, upper(p.country) AS country,
               p.items, p.value, coalesce(p.currency, 'GBP') AS currency,
               p.transaction_id, p.is_legacy,
               p.partition_date, p.source_file, p.line_number
        FROM _parsed_events p LEFT JOIN _sessionised s ON p.rowid = s.parsed_row
        WHERE p.reason_code IS NULL
        """
    )
    con.execute(
        f"""
        INSERT INTO quarantine BY NAME
        SELECT 'events' AS source, partition_date, source_file, line_number, reason_code,
               {_reason_detail_sql()} AS reason_detail, event_id AS record_key, raw_line
        FROM _parsed_events WHERE reason_code IS NOT NULL
        """
    )


def reconcile(con: duckdb.DuckDBPyConnection, source: str, start: date, end: date) -> dict[str, int]:
    """Count raw, clean, quarantined and duplicate rows of [start, end) from the stored tables.

    Raw events are the lines the raw layer counted in the landing files it registered
    (``raw_events.line_count``); raw orders are the rows of ``raw_orders``.
    """
    raw_sql, clean_table, duplicate_reason = {
        "events": ("SELECT coalesce(sum(line_count), 0) FROM raw_events", "clean_events", "duplicate_event"),
        "orders": ("SELECT count(*) FROM raw_orders", "clean_order_lines", "duplicate_line"),
    }[source]
    window = "partition_date >= $start AND partition_date < $end"
    raw, clean, quarantined, duplicates = con.execute(
        f"""SELECT ({raw_sql} WHERE {window}),
                   (SELECT count(*) FROM {clean_table} WHERE {window}),
                   (SELECT count(*) FROM quarantine WHERE source = $source AND {window} AND reason_code <> $dup),
                   (SELECT count(*) FROM quarantine WHERE source = $source AND {window} AND reason_code = $dup)""",
        {"start": start, "end": end, "source": source, "dup": duplicate_reason},
    ).fetchone()
    return {"raw": int(raw), "clean": clean, "quarantined": quarantined, "duplicates": duplicates}


__all__ = [
    "EventRules",
    "clean_event_lines",
    "reconcile",
    "replace_date_range",
]
