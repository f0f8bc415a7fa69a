"""Point-in-time visitor activity from ``clean_events``: what each visitor did before a day.

A visitor is a person as far as the events can tell: the ``user_id`` when logged in, else the user
a device (``anonymous_id``) was last seen logged in as, else the device itself. The device-to-user
map is built from the same events before ``$before`` only, so a login after the cutoff changes
nothing before it. Bot sessions (the metric layer's rule, ``lib.metrics.sources``) are left out.

Shared by the intent segments (as of a day) and the purchase-propensity features (as of the day
before a cutoff).
"""

from __future__ import annotations

import duckdb

from shopverse_platform.lib.cleaning.dimensions import bot_rule_sql
from shopverse_platform.lib.warehouse.shapes import relation

# "Never" for the days-since columns: longer than any lookback the platform uses.
NEVER_DAYS = 365


def human_events_sql(con: duckdb.DuckDBPyConnection) -> str:
    """Events before ``$before`` outside bot sessions, each with its ``visitor_id``."""
    events = relation(con, "clean_events")
    return f"""
    WITH ev AS (
        SELECT event_id, event_name, event_ts, event_date, user_id, anonymous_id, session_id, device, value,
               transaction_id
        FROM {events} WHERE event_date < $before
    ),
    bot_sessions AS (
        SELECT session_id FROM ev GROUP BY session_id
        HAVING {bot_rule_sql("count(*)", "min(event_ts)", "max(event_ts)")}
    ),
    human AS (SELECT * FROM ev ANTI JOIN bot_sessions USING (session_id)),
    devices AS (
        SELECT anonymous_id, arg_max(user_id, event_ts) AS device_user
        FROM human WHERE user_id IS NOT NULL AND anonymous_id IS NOT NULL GROUP BY anonymous_id
    )
    SELECT h.*, coalesce(h.user_id, d.device_user, h.anonymous_id) AS visitor_id,
           coalesce(h.user_id, d.device_user) IS NOT NULL AS is_identified
    FROM human h LEFT JOIN devices d USING (anonymous_id)
    """


def visitor_state_sql(con: duckdb.DuckDBPyConnection, lookback_days: int) -> str:
    """One row per visitor seen in the ``lookback_days`` before ``$before`` (exclusive).

    ``recent_*`` counts cover the lookback; ``*_7d`` the last 7 days; ``purchases_total`` and
    ``revenue_total`` the whole history before ``$before`` (a purchase re-sent under the same
    transaction id counts once); ``days_since_*`` count from the day before ``$before`` and are
    ``NEVER_DAYS`` when it never happened.
    """
    lookback = int(lookback_days)
    if lookback < 1:
        raise ValueError("lookback_days must be at least 1")
    last_day = "(CAST($before AS DATE) - 1)"
    recent = f"event_date >= CAST($before AS DATE) - {lookback}"
    week = "event_date >= CAST($before AS DATE) - 7"
    return f"""
    WITH tagged AS ({human_events_sql(con)}),
    purchases AS (
        SELECT visitor_id, event_date, value FROM tagged WHERE event_name = 'purchase'
        QUALIFY row_number() OVER (PARTITION BY coalesce(transaction_id, event_id) ORDER BY event_ts, event_id) = 1
    ),
    bought AS (
        SELECT visitor_id, count(*) AS purchases_total, coalesce(sum(value), 0) AS revenue_total,
               count(*) FILTER (WHERE {recent}) AS recent_purchases, max(event_date) AS last_purchase_date
        FROM purchases GROUP BY visitor_id
    ),
    per_visitor AS (
        SELECT visitor_id, bool_or(is_identified) AS is_identified,
               min(event_date) AS first_seen_date, max(event_date) AS last_seen_date,
               count(DISTINCT anonymous_id) AS devices,
               count(DISTINCT session_id) FILTER (WHERE {week}) AS sessions_7d,
               count(DISTINCT session_id) FILTER (WHERE {recent}) AS recent_sessions,
               count(DISTINCT event_date) FILTER (WHERE {recent}) AS recent_active_days,
               count(*) FILTER (WHERE {recent}) AS recent_events,
               count(*) FILTER (WHERE {recent} AND event_name = 'page_view') AS recent_page_views,
               count(*) FILTER (WHERE {recent} AND event_name = 'view_item') AS recent_item_views,
               count(*) FILTER (WHERE {week} AND event_name = 'view_item') AS item_views_7d,
               count(*) FILTER (WHERE {recent} AND event_name = 'add_to_cart') AS recent_cart_adds,
               count(*) FILTER (WHERE {week} AND event_name = 'add_to_cart') AS cart_adds_7d,
               count(*) FILTER (WHERE {recent} AND event_name = 'begin_checkout') AS recent_checkouts,
               max(event_date) FILTER (WHERE event_name = 'add_to_cart') AS last_cart_date,
               count(DISTINCT session_id) FILTER (WHERE {recent} AND device = 'mobile')
                   / greatest(count(DISTINCT session_id) FILTER (WHERE {recent}), 1) AS recent_mobile_share
        FROM tagged GROUP BY visitor_id
    )
    SELECT v.visitor_id, v.is_identified, v.first_seen_date, v.last_seen_date, v.devices,
           v.sessions_7d, v.recent_sessions, v.recent_active_days, v.recent_events, v.recent_page_views,
           v.recent_item_views, v.item_views_7d, v.recent_cart_adds, v.cart_adds_7d, v.recent_checkouts,
           coalesce(b.recent_purchases, 0) AS recent_purchases, coalesce(b.purchases_total, 0) AS purchases_total,
           coalesce(b.revenue_total, 0) AS revenue_total, v.recent_mobile_share,
           date_diff('day', v.last_seen_date, {last_day}) AS days_since_last_visit,
           coalesce(date_diff('day', v.last_cart_date, {last_day}), {NEVER_DAYS}) AS days_since_last_cart,
           coalesce(date_diff('day', b.last_purchase_date, {last_day}), {NEVER_DAYS}) AS days_since_last_purchase,
           date_diff('day', v.first_seen_date, {last_day}) AS days_since_first_seen
    FROM per_visitor v LEFT JOIN bought b USING (visitor_id)
    WHERE v.last_seen_date >= CAST($before AS DATE) - {lookback}
    """
