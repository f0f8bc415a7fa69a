"""``daily_traffic`` and ``funnel_daily`` from the clean events.

Sessions count on the UTC day they started, with all their events (also those after midnight).
Event counts (page views, product views, activity by hour) count on the event's UTC day. Bot
sessions (see ``lib.dimensions.BOT_MIN_EVENTS``) are counted apart and left out of every other figure.
Visitors are devices (``anonymous_id``); bounced sessions have at most one hit after session_start.
Hourly activity counts events, page views and active devices by event hour, sessions by start hour.
"""

from __future__ import annotations

from datetime import date

import duckdb

from shopverse_platform.lib.metrics.sources import (
    CHECKOUT_FUNNEL,
    PURCHASE_FUNNEL,
    create_window_events,
    replace_window,
)
from shopverse_platform.lib.warehouse.sql import load_sql


def build_daily_traffic(con: duckdb.DuckDBPyConnection, start: date, end: date, window_ready: bool = False) -> int:
    if not window_ready:  # several session metrics built in one step share one window
        create_window_events(con, start, end)
    return replace_window(
        con, "daily_traffic", "traffic_date", start, end, load_sql(__file__, "daily_traffic"), {"start": start, "end": end}
    )


def build_funnel_daily(con: duckdb.DuckDBPyConnection, start: date, end: date, window_ready: bool = False) -> int:
    if not window_ready:  # several session metrics built in one step share one window
        create_window_events(con, start, end)
    params = {"start": start, "end": end, "purchase_funnel": list(PURCHASE_FUNNEL), "checkout_funnel": list(CHECKOUT_FUNNEL)}
    return replace_window(con, "funnel_daily", "funnel_date", start, end, load_sql(__file__, "funnel_daily"), params)
