-- The window's events with their session's columns. The window is the one window_bounds.sql set
-- (a view cannot take parameters).
CREATE OR REPLACE TEMP VIEW _window_events AS
SELECT e.event_id, e.event_name, e.event_ts, e.event_date, e.user_id, e.anonymous_id, e.session_id,
       e.device, e.country, e.items, e.value, e.transaction_id, s.* EXCLUDE (session_id)
FROM {{events}} e JOIN _window_sessions s USING (session_id)
WHERE e.event_date >= getvariable('metrics_window').lo AND e.event_date < getvariable('metrics_window').hi
