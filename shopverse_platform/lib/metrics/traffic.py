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
    days_sql,
    replace_window,
)

DAILY_TRAFFIC_SQL = f"""
WITH days AS ({days_sql(column="traffic_date")}),
per_session_day AS (
    SELECT session_date,
           count(*) FILTER (WHERE NOT is_bot) AS sessions,
           count(DISTINCT visitor_id) FILTER (WHERE NOT is_bot) AS visitors,
           count(*) FILTER (WHERE NOT is_bot AND session_hits <= 1) AS bounced_sessions,
           avg(session_seconds) FILTER (WHERE NOT is_bot) AS avg_session_seconds,
           count(*) FILTER (WHERE is_bot) AS bot_sessions
    FROM _window_sessions WHERE session_date >= $start AND session_date < $end
    GROUP BY session_date
),
started AS (
    SELECT session_date AS event_date, CAST(hour(session_start) AS INTEGER) AS hour, count(*) AS sessions_started
    FROM _window_sessions WHERE NOT is_bot AND session_date >= $start AND session_date < $end GROUP BY ALL
),
per_hour AS (
    SELECT event_date, CAST(hour(event_ts) AS INTEGER) AS hour, is_bot,
           count(*) AS events,
           count(*) FILTER (WHERE event_name = 'page_view') AS page_views,
           count(*) FILTER (WHERE event_name = 'view_item') AS product_views,
           count(DISTINCT anonymous_id) AS active_visitors
    FROM _window_events_flagged WHERE event_date >= $start AND event_date < $end
    GROUP BY ALL
),
per_event_day AS (
    SELECT event_date,
           sum(events) FILTER (WHERE NOT is_bot) AS events,
           sum(page_views) FILTER (WHERE NOT is_bot) AS page_views,
           sum(product_views) FILTER (WHERE NOT is_bot) AS product_views,
           sum(events) FILTER (WHERE is_bot) AS bot_events
    FROM per_hour GROUP BY event_date
),
hourly AS (
    SELECT d.traffic_date, h.hour, coalesce(p.events, 0) AS events, coalesce(p.page_views, 0) AS page_views,
           coalesce(s.sessions_started, 0) AS sessions_started, coalesce(p.active_visitors, 0) AS active_visitors
    FROM days d CROSS JOIN (SELECT CAST(range AS INTEGER) AS hour FROM range(24)) h
    LEFT JOIN per_hour p ON p.event_date = d.traffic_date AND p.hour = h.hour AND NOT p.is_bot
    LEFT JOIN started s ON s.event_date = d.traffic_date AND s.hour = h.hour
),
by_hour AS (
    SELECT traffic_date,
           list({{'hour': hour, 'events': events, 'page_views': page_views, 'sessions_started': sessions_started,
                 'active_visitors': active_visitors}} ORDER BY hour) AS activity_by_hour,
           CASE WHEN max(events) > 0 THEN arg_max(hour, (events, -hour)) END AS peak_hour_by_events
    FROM hourly GROUP BY traffic_date
)
SELECT days.traffic_date,
       coalesce(visitors, 0) AS visitors,
       coalesce(sessions, 0) AS sessions,
       CAST(coalesce(events, 0) AS BIGINT) AS events,
       CAST(coalesce(page_views, 0) AS BIGINT) AS page_views,
       CAST(coalesce(product_views, 0) AS BIGINT) AS product_views,
       coalesce(bounced_sessions, 0) AS bounced_sessions,
       CASE WHEN sessions > 0 THEN bounced_sessions / sessions END AS bounce_rate,
       CASE WHEN visitors > 0 THEN sessions / visitors END AS sessions_per_visitor,
       avg_session_seconds,
       coalesce(bot_sessions, 0) AS bot_sessions,
       CAST(coalesce(bot_events, 0) AS BIGINT) AS bot_events,
       activity_by_hour, peak_hour_by_events
FROM days
LEFT JOIN per_session_day s ON s.session_date = days.traffic_date
LEFT JOIN per_event_day e ON e.event_date = days.traffic_date
LEFT JOIN by_hour USING (traffic_date)
ORDER BY days.traffic_date
"""


def build_daily_traffic(con: duckdb.DuckDBPyConnection, start: date, end: date, window_ready: bool = False) -> int:
    if not window_ready:  # several session metrics built in one step share one window
        create_window_events(con, start, end)
    return replace_window(con, "daily_traffic", "traffic_date", start, end, DAILY_TRAFFIC_SQL, {"start": start, "end": end})


def _step_case(steps: tuple[str, ...]) -> str:
    whens = " ".join(f"WHEN '{name}' THEN {number}" for number, name in enumerate(steps, 1))
    return f"CASE event_name {whens} END"


def _reached_sql(steps: tuple[str, ...]) -> str:
    """The last step of ``steps`` a session reached in order: a step counts only after the previous one
    (events in time order; a later event of an earlier step does not undo progress)."""
    names = ", ".join(f"'{s}'" for s in steps)
    step = _step_case(steps)
    return (
        f"coalesce(list_reduce(list({step} ORDER BY event_ts, {step}) FILTER (WHERE event_name IN ({names})), "
        f"lambda acc, x: CASE WHEN x = acc + 1 THEN x ELSE acc END, 0), 0)"
    )


def _funnel_rows_sql(funnel: str, steps: tuple[str, ...], reached: str, offset: int) -> str:
    """One row per day and step: sessions that reached the step (``reached >= number``)."""
    rows = " UNION ALL ".join(f"SELECT {number} AS step_number, '{name}' AS step" for number, name in enumerate(steps, 1))
    return f"""
        SELECT d.funnel_date, '{funnel}' AS funnel, s.step_number, s.step,
               count(p.session_id) FILTER (WHERE p.{reached} >= s.step_number - {offset}) AS sessions
        FROM days d CROSS JOIN ({rows}) s
        LEFT JOIN progress p ON p.session_date = d.funnel_date
        GROUP BY ALL
    """


FUNNEL_DAILY_SQL = f"""
WITH days AS ({days_sql(column="funnel_date")}),
paths AS (
    SELECT session_id,
           {_reached_sql(PURCHASE_FUNNEL[1:])} AS purchase_reached,
           {_reached_sql(CHECKOUT_FUNNEL)} AS checkout_reached
    FROM _window_events_flagged  -- the session's day and bot flag are applied in progress
    WHERE event_name IN {tuple(PURCHASE_FUNNEL[1:])}
    GROUP BY session_id
),
progress AS (
    SELECT s.session_date, s.session_id, coalesce(p.purchase_reached, 0) AS purchase_reached,
           coalesce(p.checkout_reached, 0) AS checkout_reached
    FROM _window_sessions s LEFT JOIN paths p USING (session_id)
    WHERE s.session_date >= $start AND s.session_date < $end AND NOT s.is_bot
),
steps AS (
    {_funnel_rows_sql("purchase", PURCHASE_FUNNEL, "purchase_reached", 1)}
    UNION ALL
    {_funnel_rows_sql("checkout", CHECKOUT_FUNNEL, "checkout_reached", 0)}
),
rated AS (
    SELECT *,
           lag(sessions) OVER (PARTITION BY funnel_date, funnel ORDER BY step_number) AS previous_sessions,
           first(sessions) OVER (PARTITION BY funnel_date, funnel ORDER BY step_number) AS first_sessions
    FROM steps
)
SELECT funnel_date, funnel, CAST(step_number AS INTEGER) AS step_number, step, sessions,
       CASE WHEN previous_sessions > 0 THEN sessions / previous_sessions END AS conversion_from_previous,
       CASE WHEN previous_sessions > 0 THEN 1 - sessions / previous_sessions END AS drop_off_rate,
       CASE WHEN first_sessions > 0 THEN sessions / first_sessions END AS conversion_from_start
FROM rated
ORDER BY funnel_date, funnel DESC, step_number
"""


def build_funnel_daily(con: duckdb.DuckDBPyConnection, start: date, end: date, window_ready: bool = False) -> int:
    if not window_ready:  # several session metrics built in one step share one window
        create_window_events(con, start, end)
    return replace_window(con, "funnel_daily", "funnel_date", start, end, FUNNEL_DAILY_SQL, {"start": start, "end": end})
