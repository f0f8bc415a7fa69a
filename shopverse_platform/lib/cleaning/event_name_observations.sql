-- Events per changed partition of clean_events and event name (bots included): which events the
-- shop's tracker sends, so the funnel's steps are known without a scan of every event's name (the
-- whole history's, every day: 0.03 s at 9.7 M events, growing with them).
SELECT 'clean_events' AS source, partition_date, event_name, count(*) AS events
FROM {{events}}
WHERE partition_date IN (SELECT partition_date FROM _dimension_changed_days WHERE source = 'clean_events')
GROUP BY ALL
ORDER BY partition_date, event_name
