-- What the changed partitions of clean_events say about visitors: one row per event day, session,
-- device and user (NULL before a login) with how many events of each kind and when the first and
-- last fell. The daily visitor state (intent segments, the behaviour clusters' site activity) is
-- computed from these instead of the lookback's events, a few rows per session instead of every
-- event: a session's bot verdict from its rows' counts and first/last times, a device's user from
-- its rows' last times, the per-visitor counts as sums and distinct counts over its rows.
SELECT 'clean_events' AS source, partition_date, event_date, session_id, anonymous_id, user_id,
       count(*) AS events, min(event_ts) AS first_ts, max(event_ts) AS last_ts,
       count(*) FILTER (WHERE event_name = 'page_view') AS page_views,
       count(*) FILTER (WHERE event_name = 'view_item') AS item_views,
       count(*) FILTER (WHERE event_name = 'add_to_cart') AS cart_adds,
       count(*) FILTER (WHERE event_name = 'begin_checkout') AS checkouts
FROM {{events}}
WHERE partition_date IN (SELECT partition_date FROM _dimension_changed_days WHERE source = 'clean_events')
GROUP BY ALL
