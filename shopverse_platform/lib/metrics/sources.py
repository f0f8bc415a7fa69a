"""Inputs of the metric layer and the rules shared by several metric tables.

Every metric reads the warehouse through these relations, so a warehouse holding only order exports
(no ``clean_events``) or only events (no ``clean_order_lines``) still builds every table, with zeros.
"""

from __future__ import annotations

from datetime import date, timedelta

import duckdb

from shopverse_platform.lib.cleaning.dimensions import (
    bot_rule_sql,
    events_per_minute_sql,
)
from shopverse_platform.lib.warehouse.shapes import relation
from shopverse_platform.lib.warehouse.tables import replace_date_range, table_exists

# Order-export line types that are money from customers for goods: they make gross sales,
# cancellations and net revenue. Fees the shop pays (bank charges, Amazon fees), charity commission,
# bad-debt write-offs, samples and zero-value stock movements are kept in the fact but are not sales.
SALES_LINE_TYPES: tuple[str, ...] = ("product", "postage", "manual_adjustment", "discount", "gift_voucher")



# The purchase journey in order (step 0 is the session itself) and the checkout funnel on its own.
PURCHASE_FUNNEL: tuple[str, ...] = ("session_start", "view_item", "add_to_cart", "begin_checkout", "add_payment_info", "purchase")
CHECKOUT_FUNNEL: tuple[str, ...] = ("begin_checkout", "add_payment_info", "purchase")


def sql_list(values: tuple[str, ...] | list[str]) -> str:
    return "(" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + ")"


def days_sql(start_param: str = "$start", end_param: str = "$end", column: str = "day") -> str:
    """One row per day in [start, end): days without data still get their row (of zeros)."""
    return (
        f"SELECT CAST(range AS DATE) AS {column} FROM range(CAST({start_param} AS TIMESTAMP), "
        f"CAST({end_param} AS TIMESTAMP), INTERVAL 1 DAY)"
    )


def create_window_events(con: duckdb.DuckDBPyConnection, start: date, end: date) -> None:
    """Temp table ``_window_sessions`` and temp view ``_window_events`` for [start - 1 day, end + 1 day).

    Session metrics count a session on the UTC day it started and use all its events, also those
    after midnight; reading one day either side catches sessions crossing midnight in both
    directions. Event metrics (page views, hourly activity) use ``event_date`` within the window.

    Only the sessions are materialized (one row each, with the bot flag); ``_window_events`` is a
    view joining them to ``clean_events``, so each metric reads just the columns it needs, and
    ``_window_events_flagged`` a lighter view with the events' bot flag only.
    """
    events = relation(con, "clean_events")
    lo, hi = start - timedelta(days=1), end + timedelta(days=1)
    window = "event_date >= DATE '{lo}' AND event_date < DATE '{hi}'"
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _window_sessions AS
        SELECT session_id, min(event_ts) AS session_start, CAST(min(event_ts) AS DATE) AS session_date,
               count(*) AS session_events, count(*) FILTER (WHERE event_name <> 'session_start') AS session_hits,
               date_diff('millisecond', min(event_ts), max(event_ts)) / 1000.0 AS session_seconds,
               arg_min(anonymous_id, event_ts) AS visitor_id, max(user_id) AS session_user_id,
               arg_min(device, event_ts) AS session_device, arg_min(country, event_ts) AS session_country,
               {bot_rule_sql("count(*)", "min(event_ts)", "max(event_ts)")} AS is_bot
        FROM {events} WHERE {window.format(lo=lo, hi=hi)}
        GROUP BY session_id
        """
    )
    # Event-level reads that only need the bot flag join the few bot sessions, not all of them.
    con.execute(
        f"""
        CREATE OR REPLACE TEMP VIEW _window_events_flagged AS
        SELECT e.event_id, e.event_name, e.event_ts, e.event_date, e.anonymous_id, e.session_id,
               b.session_id IS NOT NULL AS is_bot
        FROM {events} e LEFT JOIN (SELECT session_id FROM _window_sessions WHERE is_bot) b USING (session_id)
        WHERE {window.format(lo=lo, hi=hi).replace("event_date", "e.event_date")}
        """
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP VIEW _window_events AS
        SELECT e.event_id, e.event_name, e.event_ts, e.event_date, e.user_id, e.anonymous_id, e.session_id,
               e.device, e.country, e.items, e.value, e.transaction_id, s.* EXCLUDE (session_id)
        FROM {events} e JOIN _window_sessions s USING (session_id)
        WHERE {window.format(lo=lo, hi=hi).replace("event_date", "e.event_date")}
        """
    )


def session_stats(con: duckdb.DuckDBPyConnection) -> str:
    """Whole-history sessions with the bot rule, for the whole-history tables and weekly visitors.

    Read from the cleaning layer's ``sessions`` table when it is built (one row per session, already
    aggregated), else aggregated here from ``clean_events``; the bot rule is the same as in
    ``create_window_events`` (millisecond timestamps, a session under a minute counts as one minute).
    """
    if table_exists(con, "sessions"):
        base = """SELECT session_id, session_start, session_end, session_date, events,
                         anonymous_id AS visitor_id, user_id FROM sessions"""
    else:
        base = f"""SELECT session_id, min(event_ts) AS session_start, max(event_ts) AS session_end,
                          CAST(min(event_ts) AS DATE) AS session_date, count(*) AS events,
                          arg_min(anonymous_id, event_ts) AS visitor_id, max(user_id) AS user_id
                   FROM {relation(con, "clean_events")} GROUP BY session_id"""
    return f"""(SELECT *, {events_per_minute_sql("events", "session_start", "session_end")} AS epm,
                       date_diff('millisecond', session_start, session_end) / 1000.0 AS seconds,
                       {bot_rule_sql("events", "session_start", "session_end")} AS is_bot
                FROM ({base}))"""


def replace_window(
    con: duckdb.DuckDBPyConnection, table: str, date_column: str, start: date, end: date, select_sql: str, params: dict
) -> int:
    """Compute the window's rows into a temp table (named parameters allowed), then swap them into
    ``table`` atomically: a failed run leaves the previous rows, a rerun never duplicates."""
    staging = f"_new_{table}"
    con.execute(f"CREATE OR REPLACE TEMP TABLE {staging} AS {select_sql}", params)
    if not table_exists(con, table):
        # Created empty outside the replacing transaction: with duckdb 2.0.0, a table created and
        # bulk-filled in one transaction reports stale statistics (count(*) = 0) to the same
        # connection until it reconnects, which would fail this run's checks.
        con.execute(f"CREATE TABLE {table} AS SELECT * FROM {staging} WHERE false")
    rows = replace_date_range(
        con, table=table, date_column=date_column, start=start, end=end, select_sql=f"SELECT * FROM {staging}"
    )
    con.execute(f"DROP TABLE {staging}")
    return rows
