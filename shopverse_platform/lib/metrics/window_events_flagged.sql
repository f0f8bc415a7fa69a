-- Event-level reads that only need the bot flag join the few bot sessions, not all of them.
-- The window is the one window_bounds.sql set (a view cannot take parameters).
CREATE OR REPLACE TEMP VIEW _window_events_flagged AS
SELECT e.event_id, e.event_name, e.event_ts, e.event_date, e.anonymous_id, e.session_id,
       b.session_id IS NOT NULL AS is_bot
FROM {{events}} e LEFT JOIN (SELECT session_id FROM _window_sessions WHERE is_bot) b USING (session_id)
WHERE e.event_date >= getvariable('metrics_window').lo AND e.event_date < getvariable('metrics_window').hi
