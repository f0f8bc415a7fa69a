-- One row per visitor seen in the lookback before $before (exclusive). recent_* counts cover the
-- lookback, *_7d the last 7 days, purchases_total and revenue_total the whole history before $before
-- (a purchase re-sent under the same transaction id counts once); days_since_* count from the day
-- before $before and are never_days when it never happened. Lookback and never_days come from
-- visitor_state_settings.sql.
WITH tagged AS ({{human_events}}),
purchases AS (
    SELECT visitor_id, event_date, value FROM tagged WHERE event_name = 'purchase'
    QUALIFY row_number() OVER (PARTITION BY coalesce(transaction_id, event_id) ORDER BY event_ts, event_id) = 1
),
bought AS (
    -- money summed as DECIMAL (exact, the same in any thread order), only then made DOUBLE: a DOUBLE
    -- sum computed in parallel differs in its last digits between runs (and the snapshot's value with it)
    SELECT visitor_id, count(*) AS purchases_total,
           CAST(coalesce(sum(CAST(value AS DECIMAL(18,3))), 0) AS DOUBLE) AS revenue_total,
           count(*) FILTER (WHERE event_date >= CAST($before AS DATE) - getvariable('segmentation_visitor_state').lookback_days) AS recent_purchases,
           max(event_date) AS last_purchase_date
    FROM purchases GROUP BY visitor_id
),
flagged AS (
    SELECT *, event_date >= CAST($before AS DATE) - getvariable('segmentation_visitor_state').lookback_days AS is_recent,
           event_date >= CAST($before AS DATE) - 7 AS is_last_week
    FROM tagged
),
per_visitor AS (
    SELECT visitor_id, bool_or(is_identified) AS is_identified,
           min(event_date) AS first_seen_date, max(event_date) AS last_seen_date,
           count(DISTINCT anonymous_id) AS devices,
           count(DISTINCT session_id) FILTER (WHERE is_last_week) AS sessions_7d,
           count(DISTINCT session_id) FILTER (WHERE is_recent) AS recent_sessions,
           count(DISTINCT event_date) FILTER (WHERE is_recent) AS recent_active_days,
           count(*) FILTER (WHERE is_recent) AS recent_events,
           count(*) FILTER (WHERE is_recent AND event_name = 'page_view') AS recent_page_views,
           count(*) FILTER (WHERE is_recent AND event_name = 'view_item') AS recent_item_views,
           count(*) FILTER (WHERE is_last_week AND event_name = 'view_item') AS item_views_7d,
           count(*) FILTER (WHERE is_recent AND event_name = 'add_to_cart') AS recent_cart_adds,
           count(*) FILTER (WHERE is_last_week AND event_name = 'add_to_cart') AS cart_adds_7d,
           count(*) FILTER (WHERE is_recent AND event_name = 'begin_checkout') AS recent_checkouts,
           max(event_date) FILTER (WHERE event_name = 'add_to_cart') AS last_cart_date,
           count(DISTINCT session_id) FILTER (WHERE is_recent AND device = 'mobile')
               / greatest(count(DISTINCT session_id) FILTER (WHERE is_recent), 1) AS recent_mobile_share
    FROM flagged GROUP BY visitor_id
)
SELECT v.visitor_id, v.is_identified, v.first_seen_date, v.last_seen_date, v.devices,
       v.sessions_7d, v.recent_sessions, v.recent_active_days, v.recent_events, v.recent_page_views,
       v.recent_item_views, v.item_views_7d, v.recent_cart_adds, v.cart_adds_7d, v.recent_checkouts,
       coalesce(b.recent_purchases, 0) AS recent_purchases, coalesce(b.purchases_total, 0) AS purchases_total,
       coalesce(b.revenue_total, 0) AS revenue_total, v.recent_mobile_share,
       date_diff('day', v.last_seen_date, CAST($before AS DATE) - 1) AS days_since_last_visit,
       coalesce(date_diff('day', v.last_cart_date, CAST($before AS DATE) - 1),
                getvariable('segmentation_visitor_state').never_days) AS days_since_last_cart,
       coalesce(date_diff('day', b.last_purchase_date, CAST($before AS DATE) - 1),
                getvariable('segmentation_visitor_state').never_days) AS days_since_last_purchase,
       date_diff('day', v.first_seen_date, CAST($before AS DATE) - 1) AS days_since_first_seen
FROM per_visitor v LEFT JOIN bought b USING (visitor_id)
WHERE v.last_seen_date >= CAST($before AS DATE) - getvariable('segmentation_visitor_state').lookback_days
