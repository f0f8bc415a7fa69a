-- The period's sessions and bounce rate, [$start, $end).
SELECT sum(sessions)::DOUBLE, sum(bounced_sessions)::DOUBLE / nullif(sum(sessions), 0) FROM daily_traffic
WHERE traffic_date >= $start AND traffic_date < $end
