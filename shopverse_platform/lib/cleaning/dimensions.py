"""Whole-history tables built from the clean layer: sessions and the product/customer dimensions."""

from __future__ import annotations

from pathlib import Path

import duckdb

from shopverse_platform.lib.warehouse.shapes import relation
from shopverse_platform.lib.warehouse.sql import SqlText, TableName, load_sql, table
from shopverse_platform.lib.warehouse.tables import replace_table, table_exists, table_schema

# Funnel steps in order; a session "reached" a step if it has the event (ordering is enforced in
# the metric layer, which needs it; here the flags describe what happened).
FUNNEL_FLAGS = {
    "viewed_item": "view_item",
    "added_to_cart": "add_to_cart",
    "began_checkout": "begin_checkout",
    "added_payment_info": "add_payment_info",
    "purchased": "purchase",
}


# A session is a bot (scripted client), not a visitor, when it sends at least BOT_MIN_EVENTS events
# at BOT_EVENTS_PER_MINUTE or more: one every two seconds, sustained, is beyond human browsing
# (the busiest human sessions of the simulator stay under 10 a minute). Defined here, with the
# sessions, and used by the metric layer and the visitor segments.
BOT_MIN_EVENTS = 30
BOT_EVENTS_PER_MINUTE = 30.0


def events_per_minute_sql(events: str, first_ts: str, last_ts: str) -> str:
    """Events per active minute as SQL, from a session's event count and first/last timestamps
    (millisecond precision; a session shorter than a minute counts as one minute)."""
    return f"({events} / greatest(date_diff('millisecond', {first_ts}, {last_ts}) / 60000.0, 1.0))"


def bot_rule_sql(events: str, first_ts: str, last_ts: str) -> str:
    """The bot rule as a SQL condition over a session's event count and first/last timestamps."""
    return (f"({events} >= {BOT_MIN_EVENTS} AND {events_per_minute_sql(events, first_ts, last_ts)} "
            f">= {BOT_EVENTS_PER_MINUTE})")


def _source(con: duckdb.DuckDBPyConnection, name: str) -> TableName | SqlText:
    """A clean table as a part for :func:`load_sql`: the table, or, when it was never built, the
    empty relation of its shape (fixed text of ``lib/warehouse/shapes.py``, no value in it)."""
    found = relation(con, name)
    return table(name) if found == name else SqlText(found)


def sessions_query(events: TableName | SqlText) -> SqlText:
    """sessions.sql over ``events`` (the whole of clean_events, or the events of some sessions)."""
    # The two rules are code-made from these column expressions and this module's constants (no
    # value from outside), so they may be spliced; the funnel events are bound, one per flag.
    return load_sql(
        __file__, "sessions", events=events,
        events_per_minute=SqlText(events_per_minute_sql("count(*)", "min(event_ts)", "max(event_ts)")),
        bot_rule=SqlText(bot_rule_sql("count(*)", "min(event_ts)", "max(event_ts)")),
    )


def build_sessions(con: duckdb.DuckDBPyConnection, full: bool = False) -> str:
    """Bring ``sessions`` up to date with ``clean_events``; returns what was done (the ``mode``).

    Incremental by construction: ``sessions_sources`` keeps a fingerprint of each landing partition
    of clean_events as of the last build (one scan with a group per day, far less memory than the
    group per session of a rebuild), ``session_partitions`` which partitions hold which session.
    Only the sessions with an event in a changed partition, now or before, are deleted and
    re-aggregated over all their events (a session crossing midnight stays one). Without that state
    (a first build, a warehouse from before it, no clean events yet), when the stored table's columns
    are not the query's (a release changed sessions.sql), or with ``full``, it is rebuilt whole."""
    events = _source(con, "clean_events")
    con.execute(load_sql(__file__, "sessions_sources_now", events=events))
    state = not full and all(table_exists(con, name) for name in ("sessions", "sessions_sources", "session_partitions"))
    if state:  # the columns the query makes now, against the stored table's (LIMIT 0: planned, not run)
        made = con.execute(f"SELECT * FROM ({sessions_query(events)}) LIMIT 0", FUNNEL_FLAGS).description
        state = [c[0] for c in made] == [name for name, _ in table_schema(con, "sessions")]
    con.execute("BEGIN TRANSACTION")
    try:
        if state and isinstance(events, TableName):
            con.execute(load_sql(__file__, "sessions_changed_days"))
            con.execute(load_sql(__file__, "sessions_affected"))
            days = con.execute("SELECT count(*) FROM _sessions_changed_days").fetchone()[0]
            affected = con.execute("SELECT count(*) FROM _sessions_affected").fetchone()[0]
            if days:
                con.execute(load_sql(__file__, "sessions_delete_affected"))
                only_affected = SqlText("(SELECT * FROM clean_events "
                                        "WHERE session_id IN (SELECT session_id FROM _sessions_affected))")
                con.execute(load_sql(__file__, "sessions_insert", sessions=sessions_query(only_affected)), FUNNEL_FLAGS)
                con.execute(load_sql(__file__, "session_partitions_delete"))
                con.execute(load_sql(__file__, "session_partitions_insert"))
                con.execute(load_sql(__file__, "sessions_sources_save"))
            mode = f"incremental ({days} changed partitions, {affected} sessions recomputed)"
        else:
            con.execute(f"CREATE OR REPLACE TABLE sessions AS {sessions_query(events)}", FUNNEL_FLAGS)
            con.execute(load_sql(__file__, "session_partitions_full", events=events))
            con.execute(load_sql(__file__, "sessions_sources_save"))
            mode = "full"
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return mode


def build_dim_products(con: duckdb.DuckDBPyConnection, catalogue_file: Path) -> int:
    """Rebuild ``dim_products``; the catalogue CSV is read when present."""
    return _build_dimension(con, "dim_products", "catalogue", catalogue_file, "catalogue_file", "catalogue_empty")


def build_dim_customers(con: duckdb.DuckDBPyConnection, customers_file: Path) -> int:
    """Rebuild ``dim_customers``; the customer profiles CSV is read when present."""
    return _build_dimension(con, "dim_customers", "profiles", customers_file, "customer_profiles_file",
                            "customer_profiles_empty")


def _build_dimension(con: duckdb.DuckDBPyConnection, table_name: str, part: str, file: Path, reader: str,
                     empty: str) -> int:
    """Rebuild a dimension from the clean tables and an optional CSV: ``reader`` reads the file
    (its path bound as ``$file``, so any character in it is safe), ``empty`` stands in without it."""
    present = file.is_file()
    return replace_table(
        con,
        table=table_name,
        select_sql=load_sql(
            __file__, table_name, events=_source(con, "clean_events"), lines=_source(con, "clean_order_lines"),
            **{part: load_sql(__file__, reader if present else empty)},
        ),
        params={"file": str(file)} if present else {},
    )
