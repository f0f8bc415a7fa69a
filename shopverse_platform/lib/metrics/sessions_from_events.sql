SELECT session_id, min(event_ts) AS session_start, max(event_ts) AS session_end,
       CAST(min(event_ts) AS DATE) AS session_date, count(*) AS events,
       arg_min(anonymous_id, event_ts) AS visitor_id, max(user_id) AS user_id
FROM {{events}}
GROUP BY session_id
