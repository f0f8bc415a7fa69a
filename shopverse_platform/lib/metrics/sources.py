"""Inputs of the metric layer and the rules shared by several metric tables.

Every metric reads the warehouse through these relations, so a warehouse holding only order exports
(no ``clean_events``) or only events (no ``clean_order_lines``) still builds every table, with zeros.
The SQL lives in ``.sql`` files beside each module; values are bound as DuckDB parameters.
"""

from __future__ import annotations

from datetime import date, timedelta

import duckdb

from shopverse_platform.lib.cleaning.dimensions import (
    bot_rule_sql,
    events_per_minute_sql,
    observations_current,
)
from shopverse_platform.lib.warehouse.shapes import relation
from shopverse_platform.lib.warehouse.sql import SqlText, TableName, load_sql, table
from shopverse_platform.lib.warehouse.tables import replace_date_range, replace_table, schema_change, table_exists

# Order-export line types that are money from customers for goods: they make gross sales,
# cancellations and net revenue. Fees the shop pays (bank charges, Amazon fees), charity commission,
# bad-debt write-offs, samples and zero-value stock movements are kept in the fact but are not sales.
SALES_LINE_TYPES: tuple[str, ...] = ("product", "postage", "manual_adjustment", "discount", "gift_voucher")


def revenue_documents() -> SqlText:
    """The ``orders`` rows whose amounts make whole-history revenue, as a condition (revenue_documents.sql).
    seasonality and the check of its revenue filter with this one text, so they cannot disagree."""
    return load_sql(__file__, "revenue_documents")


def customer_documents() -> SqlText:
    """The ``orders`` rows of customer_metrics (identified customers' orders and credits), as a
    condition (customer_documents.sql), shared by the table and the check of its revenue."""
    return load_sql(__file__, "customer_documents")


# The full purchase journey in order (step 1 is the session itself) and the checkout funnel on its own.
# A shop's funnels keep only the steps it emits (traffic.funnel_steps); a step keeps its number here.
PURCHASE_FUNNEL: tuple[str, ...] = ("session_start", "view_item", "add_to_cart", "begin_checkout", "add_payment_info", "purchase")
CHECKOUT_FUNNEL: tuple[str, ...] = ("begin_checkout", "add_payment_info", "purchase")


def source(con: duckdb.DuckDBPyConnection, name: str) -> TableName | SqlText:
    """A clean table as a part for :func:`load_sql`: the table, or, when it was never built, the empty
    relation of its shape. That relation is fixed text written in ``lib/warehouse/shapes.py`` (no
    value in it), which is why it may be wrapped as ``SqlText``."""
    found = relation(con, name)
    return table(name) if found == name else SqlText(found)


def purchase_events(con: duckdb.DuckDBPyConnection) -> TableName | SqlText:
    """Every purchase event, narrow (``event_id``, ``event_ts``, ``event_date``, ``transaction_id``,
    ``currency``, ``items_amount``), as a part for :func:`load_sql`: ``purchase_observations`` when
    it was brought up to date from clean_events as it is now (the order_lines step does that first;
    55 k rows at 9.7 M events of history), else the same columns read from clean_events."""
    if observations_current(con, "purchase_observations"):
        return table("purchase_observations")
    read = load_sql(__file__, "purchase_events", events=source(con, "clean_events"))
    return SqlText(f"({read})")


def table_or_empty(con: duckdb.DuckDBPyConnection, name: str, empty: SqlText) -> TableName | SqlText:
    """``name`` if built, else ``empty`` (a loaded ``SELECT ... WHERE false`` of its shape) as a subquery."""
    return table(name) if table_exists(con, name) else SqlText(f"({empty})")


def _bot_rule(events: str, first_ts: str, last_ts: str) -> SqlText:
    # bot_rule_sql builds the rule from the column expressions given here and the constants of
    # lib/cleaning/dimensions.py: code-made text without any value from outside, so it may be spliced.
    return SqlText(bot_rule_sql(events, first_ts, last_ts))


def create_window_events(con: duckdb.DuckDBPyConnection, start: date, end: date) -> None:
    """Temp table ``_window_sessions`` and temp view ``_window_events`` for [start - 1 day, end + 1 day).

    Session metrics count a session on the UTC day it started and use all its events, also those
    after midnight; reading one day either side catches sessions crossing midnight in both
    directions. Event metrics (page views, hourly activity) use ``event_date`` within the window.

    Only the sessions are materialized (one row each, with the bot flag); ``_window_events`` is a
    view joining them to ``clean_events``, so each metric reads just the columns it needs, and
    ``_window_events_flagged`` a lighter view with the events' bot flag only. The views read the
    window from the connection's variable ``metrics_window`` (a view cannot take parameters).
    """
    events = source(con, "clean_events")
    window = {"lo": start - timedelta(days=1), "hi": end + timedelta(days=1)}
    con.execute(load_sql(__file__, "window_bounds"), window)
    con.execute(
        load_sql(__file__, "window_sessions", events=events,
                 bot_rule=_bot_rule("count(*)", "min(event_ts)", "max(event_ts)")),
        window,
    )
    con.execute(load_sql(__file__, "window_events_flagged", events=events))
    con.execute(load_sql(__file__, "window_events", events=events))


def session_stats(con: duckdb.DuckDBPyConnection, sessions: str = "sessions") -> SqlText:
    """Whole-history sessions with the bot rule, for the whole-history tables and weekly visitors,
    as a parenthesized subquery.

    Read from the cleaning layer's ``sessions`` table when it is built (one row per session, already
    aggregated; or ``busy_sessions``, its busy ones, kept beside it), else aggregated here from
    ``clean_events``; the bot rule is the same as in ``create_window_events`` (millisecond
    timestamps, a session under a minute counts as one minute).
    """
    if table_exists(con, sessions):
        base = load_sql(__file__, "sessions_from_table", sessions=table(sessions))
    else:
        base = load_sql(__file__, "sessions_from_events", events=source(con, "clean_events"))
    stats = load_sql(
        __file__, "session_stats", sessions=base,
        # events_per_minute_sql: like the bot rule, code-made from these column names (no value).
        events_per_minute=SqlText(events_per_minute_sql("events", "session_start", "session_end")),
        bot_rule=_bot_rule("events", "session_start", "session_end"),
    )
    return SqlText(f"({stats})")


def replace_window(
    con: duckdb.DuckDBPyConnection, table: str, date_column: str, start: date, end: date, select_sql: str, params: dict
) -> int:
    """Compute the window's rows into a temp table (named parameters allowed), then swap them into
    ``table`` atomically: a failed run leaves the previous rows, a rerun never duplicates."""
    target, staging = _stage(con, table, select_sql, params)
    if not table_exists(con, target):
        # Created empty outside the replacing transaction: with duckdb 2.0.0, a table created and
        # bulk-filled in one transaction reports stale statistics (count(*) = 0) to the same
        # connection until it reconnects, which would fail this run's checks.
        schema_change(con, load_sql(__file__, "empty_table_from_staging", target=target, staging=staging), table=target)
    rows = replace_date_range(
        con, table=target, date_column=date_column, start=start, end=end,
        select_sql=load_sql(__file__, "staging_rows", staging=staging), exists=True,  # made above if it was not
    )
    con.execute(load_sql(__file__, "drop_staging_table", staging=staging))
    return rows


def replace_whole(con: duckdb.DuckDBPyConnection, table: str, select_sql: str, params: dict) -> int:
    """Rebuild a whole-history table from a query with named parameters: computed into a temp table
    first (``replace_table`` binds positional parameters only), then swapped in atomically."""
    target, staging = _stage(con, table, select_sql, params)
    rows = replace_table(con, table=target, select_sql=load_sql(__file__, "staging_rows", staging=staging))
    con.execute(load_sql(__file__, "drop_staging_table", staging=staging))
    return rows


def _stage(con: duckdb.DuckDBPyConnection, name: str, select_sql: str, params: dict) -> tuple[TableName, TableName]:
    target, staging = table(name), table(f"_new_{name}")
    if not isinstance(select_sql, SqlText):
        raise TypeError(f"{name}: the query must be a loaded SqlText, not {type(select_sql).__name__}")
    con.execute(load_sql(__file__, "staging_table", staging=staging, query=select_sql), params)
    return target, staging
