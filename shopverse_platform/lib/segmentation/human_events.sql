-- Events before $before outside bot sessions, each with its visitor_id: the user when logged in, else
-- the user the device was last seen logged in as (before $before only), else the device itself.
WITH ev AS (
    SELECT event_id, event_name, event_ts, event_date, user_id, anonymous_id, session_id, device, value,
           transaction_id
    FROM {{events}} WHERE event_date < $before
),
bot_sessions AS (
    SELECT session_id FROM ev GROUP BY session_id
    HAVING {{bot_rule}}
),
human AS (SELECT * FROM ev ANTI JOIN bot_sessions USING (session_id)),
devices AS (
    SELECT anonymous_id, arg_max(user_id, event_ts) AS device_user
    FROM human WHERE user_id IS NOT NULL AND anonymous_id IS NOT NULL GROUP BY anonymous_id
)
SELECT h.*, coalesce(h.user_id, d.device_user, h.anonymous_id) AS visitor_id,
       coalesce(h.user_id, d.device_user) IS NOT NULL AS is_identified
FROM human h LEFT JOIN devices d USING (anonymous_id)
