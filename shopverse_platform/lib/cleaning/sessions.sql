-- One row per session over the whole history of clean events. A session "reached" a funnel step
-- if it has the step's event ($viewed_item ... $purchased: the event of each flag); ordering is
-- enforced in the metric layer, which needs it. The events-per-minute and bot rules are the
-- fragments of dimensions.py over the session's event count and first/last timestamps.
SELECT session_id,
       arg_min(anonymous_id, event_ts) AS anonymous_id,
       max(user_id) AS user_id,
       min(event_ts) AS session_start, max(event_ts) AS session_end,
       CAST(min(event_ts) AS DATE) AS session_date,
       date_diff('second', min(event_ts), max(event_ts)) AS duration_seconds,
       count(*) AS events,
       count(*) FILTER (WHERE event_name = 'page_view') AS page_views,
       count(*) FILTER (WHERE event_name = 'view_item') AS item_views,
       arg_min(device, event_ts) AS device, arg_min(country, event_ts) AS country,
       arg_min(utm_source, event_ts) AS utm_source, arg_min(referrer, event_ts) AS referrer,
       arg_min(page, event_ts) AS landing_page,
       bool_or(event_name = $viewed_item) AS viewed_item,
       bool_or(event_name = $added_to_cart) AS added_to_cart,
       bool_or(event_name = $began_checkout) AS began_checkout,
       bool_or(event_name = $added_payment_info) AS added_payment_info,
       bool_or(event_name = $purchased) AS purchased,
       sum(value) FILTER (WHERE event_name = 'purchase') AS purchase_value,
       -- events per active minute: humans rarely exceed a few; scripted clients do
       {{events_per_minute}} AS events_per_minute,
       {{bot_rule}} AS is_bot
FROM {{events}}
GROUP BY session_id
