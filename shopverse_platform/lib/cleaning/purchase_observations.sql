-- The purchase events of the changed partitions of clean_events, every delivery (a re-sent
-- transaction is kept here and counted once by its reader): the whole-history purchases the daily
-- visitor state reads (revenue to date per visitor), without a scan of every event for them.
SELECT 'clean_events' AS source, partition_date, event_id, event_ts, event_date, user_id, anonymous_id,
       session_id, value, transaction_id
FROM {{events}}
WHERE event_name = 'purchase'
  AND partition_date IN (SELECT partition_date FROM _dimension_changed_days WHERE source = 'clean_events')
