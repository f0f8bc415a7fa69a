-- One row per UTC day of the window from _window_sessions and _window_events_flagged (see traffic.py).
WITH days AS (  -- every day of the window gets its row, of zeros when nothing happened
    SELECT CAST(range AS DATE) AS traffic_date FROM range(CAST($start AS TIMESTAMP), CAST($end AS TIMESTAMP), INTERVAL 1 DAY)
),
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
           list({'hour': hour, 'events': events, 'page_views': page_views, 'sessions_started': sessions_started,
                 'active_visitors': active_visitors} ORDER BY hour) AS activity_by_hour,
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
