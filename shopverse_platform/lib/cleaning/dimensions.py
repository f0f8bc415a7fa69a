"""Whole-history tables built from the clean layer: sessions and the product/customer dimensions."""

from __future__ import annotations

from pathlib import Path

import duckdb

from shopverse_platform.lib.warehouse.shapes import relation
from shopverse_platform.lib.warehouse.sql import SqlText, TableName, load_sql, table
from shopverse_platform.lib.warehouse.tables import replace_table

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


def build_sessions(con: duckdb.DuckDBPyConnection) -> int:
    # The two rules are code-made from these column expressions and this module's constants (no
    # value from outside), so they may be spliced; the funnel events are bound, one per flag.
    return replace_table(
        con,
        table="sessions",
        select_sql=load_sql(
            __file__, "sessions", events=_source(con, "clean_events"),
            events_per_minute=SqlText(events_per_minute_sql("count(*)", "min(event_ts)", "max(event_ts)")),
            bot_rule=SqlText(bot_rule_sql("count(*)", "min(event_ts)", "max(event_ts)")),
        ),
        params=FUNNEL_FLAGS,
    )


def build_dim_products(con: duckdb.DuckDBPyConnection, catalogue_file: Path) -> int:
    """Rebuild ``dim_products``; the catalogue CSV is read when present (its path is bound, so any
    character in it is safe)."""
    has_catalogue = catalogue_file.is_file()
    return replace_table(
        con,
        table="dim_products",
        select_sql=load_sql(
            __file__, "dim_products", events=_source(con, "clean_events"), lines=_source(con, "clean_order_lines"),
            catalogue=load_sql(__file__, "catalogue_file" if has_catalogue else "catalogue_empty"),
        ),
        params={"catalogue_file": str(catalogue_file)} if has_catalogue else {},
    )


def build_dim_customers(con: duckdb.DuckDBPyConnection, customers_file: Path) -> int:
    """Rebuild ``dim_customers``; the profiles CSV is read when present (its path is bound)."""
    has_profiles = customers_file.is_file()
    return replace_table(
        con,
        table="dim_customers",
        select_sql=load_sql(
            __file__, "dim_customers", events=_source(con, "clean_events"), lines=_source(con, "clean_order_lines"),
            profiles=load_sql(__file__, "customer_profiles_file" if has_profiles else "customer_profiles_empty"),
        ),
        params={"customers_file": str(customers_file)} if has_profiles else {},
    )
