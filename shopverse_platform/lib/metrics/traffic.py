"""``daily_traffic`` and ``funnel_daily`` from the clean events.

Sessions count on the UTC day they started, with all their events (also those after midnight).
Event counts (page views, product views, activity by hour) count on the event's UTC day. Bot
sessions (see ``lib.dimensions.BOT_MIN_EVENTS``) are counted apart and left out of every other figure.
Visitors are devices (``anonymous_id``); bounced sessions have at most one hit after session_start.
Hourly activity counts events, page views and active devices by event hour, sessions by start hour.

Funnels follow the events the shop emits: a step of ``PURCHASE_FUNNEL`` is part of the funnel when
``clean_events`` holds at least one event of that name (whole history), so a shop without checkout
events gets session start → view item → add to cart → purchase. ``session_start`` (every session)
and ``purchase`` (the goal) are always steps; the checkout funnel exists when the shop emits
``begin_checkout`` or ``add_payment_info``. A step keeps its number in the full journey (purchase is
step 6 in every shop), so the days of a period add up step by step even across a tracker change.
The closed funnel (``sessions``) counts steps reached in order, the open funnel (``open_sessions``)
every step a session reached in any order (GA4 exploration semantics); ``open_sessions`` at the
purchase step is the sessions with a purchase, the numerator of every conversion rate.
"""

from __future__ import annotations

from datetime import date

import duckdb

from shopverse_platform.lib.cleaning.dimensions import update_event_name_observations
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


def funnel_steps(con: duckdb.DuckDBPyConnection,
                 observations_updated: bool = False) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The purchase and checkout funnels of this shop: the steps it emits, in journey order.
    ``observations_updated``: the event names were brought up to date on this connection already
    (the funnel's build, earlier in the same step), so they are read as they are."""
    candidates = [step for step in PURCHASE_FUNNEL if step not in ("session_start", "purchase")]
    if not observations_updated:
        update_event_name_observations(con)
    emitted = set(con.execute(load_sql(__file__, "emitted_funnel_steps"), {"candidates": candidates}).fetchone()[0] or [])
    purchase = tuple(step for step in PURCHASE_FUNNEL if step in emitted or step in ("session_start", "purchase"))
    checkout = tuple(step for step in CHECKOUT_FUNNEL if step in emitted)
    return purchase, (checkout + ("purchase",) if checkout else ())


def funnel_rows_per_day(con: duckdb.DuckDBPyConnection, observations_updated: bool = False) -> int:
    """How many rows each day of ``funnel_daily`` holds for this shop (9 with every step emitted);
    ``observations_updated`` as in :func:`funnel_steps`."""
    purchase, checkout = funnel_steps(con, observations_updated)
    return len(purchase) + len(checkout)


def build_funnel_daily(con: duckdb.DuckDBPyConnection, start: date, end: date, window_ready: bool = False) -> int:
    if not window_ready:  # several session metrics built in one step share one window
        create_window_events(con, start, end)
    purchase, checkout = funnel_steps(con)
    params = {
        "start": start, "end": end,
        "purchase_funnel": list(purchase), "purchase_numbers": [PURCHASE_FUNNEL.index(s) + 1 for s in purchase],
        "checkout_funnel": list(checkout), "checkout_numbers": [CHECKOUT_FUNNEL.index(s) + 1 for s in checkout],
    }
    return replace_window(con, "funnel_daily", "funnel_date", start, end, load_sql(__file__, "funnel_daily"), params)
