-- One row per visitor seen in the lookback before $before (exclusive): the columns the daily intent
-- segments and behaviour clusters use, with visitor_state.sql's meaning, without reading the events.
-- It reads the visitor observations instead (lib/cleaning/visitor_observations.sql: a row per event
-- day, session, device and user, kept up to date from the changed partitions), a few rows per
-- session: the per-visitor counts are sums and distinct counts over the lookback's rows. Two narrow
-- reads reach further back: the purchase observations (revenue_total covers the whole history before
-- $before) and the bot sessions (a session is judged a bot on all of its events: the sessions table's
-- verdict when it is current, else from its rows' event counts and first/last times). One meaning
-- differs (docs/segments.md): the device-to-user map is the user a device last logged in as within
-- the lookback, not ever.
-- The CTEs read more than once are NOT MATERIALIZED but the small bot_sessions: a materialized CTE
-- holds every row and column at once; inlined, each reader scans only the columns it needs.
WITH bounds AS (
    SELECT CAST($before AS DATE) - getvariable('segmentation_visitor_state').lookback_days AS window_start
),
ev AS NOT MATERIALIZED (
    SELECT event_date, session_id, anonymous_id, user_id, events, first_ts, last_ts, page_views, item_views,
           cart_adds, checkouts
    FROM {{activity}}
    WHERE event_date >= CAST($before AS DATE) - getvariable('segmentation_visitor_state').lookback_days
      AND event_date < $before
),
all_purchases AS NOT MATERIALIZED (
    SELECT event_id, event_ts, event_date, user_id, anonymous_id, session_id, value, transaction_id
    FROM {{purchases}} WHERE event_date < $before
),
bot_sessions AS MATERIALIZED (
    -- a session is judged on all of its events before $before (it may have begun before the
    -- lookback): from sessions when it is current, else from its observations; computed once
    {{bot_sessions}}
),
human AS NOT MATERIALIZED (SELECT * FROM ev ANTI JOIN bot_sessions USING (session_id)),
devices AS NOT MATERIALIZED (
    SELECT anonymous_id, arg_max(user_id, last_ts) AS device_user
    FROM human WHERE user_id IS NOT NULL AND anonymous_id IS NOT NULL GROUP BY anonymous_id
),
tagged AS NOT MATERIALIZED (
    SELECT h.*, coalesce(h.user_id, d.device_user, h.anonymous_id) AS visitor_id,
           coalesce(h.user_id, d.device_user) IS NOT NULL AS is_identified
    FROM human h LEFT JOIN devices d USING (anonymous_id)
),
purchases AS NOT MATERIALIZED (
    SELECT coalesce(p.user_id, d.device_user, p.anonymous_id) AS visitor_id, p.event_date, p.value
    FROM (SELECT * FROM all_purchases ANTI JOIN bot_sessions USING (session_id)) p
    LEFT JOIN devices d USING (anonymous_id)
    QUALIFY row_number() OVER (PARTITION BY coalesce(p.transaction_id, p.event_id) ORDER BY p.event_ts, p.event_id) = 1
),
bought AS NOT MATERIALIZED (
    -- money summed as DECIMAL (exact, the same in any thread order), only then made DOUBLE: a DOUBLE
    -- sum computed in parallel differs in its last digits between runs (and the snapshot's value with it)
    SELECT visitor_id, CAST(coalesce(sum(CAST(value AS DECIMAL(18,3))), 0) AS DOUBLE) AS revenue_total,
           count(*) FILTER (WHERE event_date >= (SELECT window_start FROM bounds)) AS recent_purchases
    FROM purchases GROUP BY visitor_id
),
flagged AS NOT MATERIALIZED (
    -- every row of the lookback is recent: the flag states what the recent_* columns count (as in
    -- visitor_state.sql, so their column lineage names event_date); the WHERE of ev only prunes
    SELECT *, event_date >= (SELECT window_start FROM bounds) AS is_recent FROM tagged
),
per_visitor AS NOT MATERIALIZED (
    SELECT visitor_id, bool_or(is_identified) AS is_identified, max(event_date) AS last_seen_date,
           count(DISTINCT session_id) FILTER (WHERE is_recent) AS recent_sessions,
           count(DISTINCT event_date) FILTER (WHERE is_recent) AS recent_active_days,
           CAST(coalesce(sum(page_views) FILTER (WHERE is_recent), 0) AS BIGINT) AS recent_page_views,
           CAST(coalesce(sum(item_views) FILTER (WHERE is_recent), 0) AS BIGINT) AS recent_item_views,
           CAST(coalesce(sum(cart_adds) FILTER (WHERE is_recent), 0) AS BIGINT) AS recent_cart_adds,
           CAST(coalesce(sum(checkouts) FILTER (WHERE is_recent), 0) AS BIGINT) AS recent_checkouts
    FROM flagged GROUP BY visitor_id
)
SELECT v.visitor_id, v.is_identified, v.last_seen_date, v.recent_sessions, v.recent_active_days,
       v.recent_page_views, v.recent_item_views, v.recent_cart_adds, v.recent_checkouts,
       coalesce(b.recent_purchases, 0) AS recent_purchases, coalesce(b.revenue_total, 0) AS revenue_total
FROM per_visitor v LEFT JOIN bought b USING (visitor_id)
