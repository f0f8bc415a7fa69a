CREATE OR REPLACE TEMP TABLE _window_sessions AS
SELECT session_id, min(event_ts) AS session_start, CAST(min(event_ts) AS DATE) AS session_date,
       count(*) AS session_events, count(*) FILTER (WHERE event_name <> 'session_start') AS session_hits,
       date_diff('millisecond', min(event_ts), max(event_ts)) / 1000.0 AS session_seconds,
       arg_min(anonymous_id, event_ts) AS visitor_id, max(user_id) AS session_user_id,
       arg_min(device, event_ts) AS session_device, arg_min(country, event_ts) AS session_country,
       {{bot_rule}} AS is_bot
FROM {{events}}
WHERE event_date >= $lo AND event_date < $hi
GROUP BY session_id
