-- Sessions and bounce rate of the report's period, [$start, $end), and of the one before it,
-- [$previous_start, $start): a row each, one read of daily_traffic.
SELECT p.period, sum(d.sessions)::DOUBLE AS sessions,
       sum(d.bounced_sessions)::DOUBLE / nullif(sum(d.sessions), 0) AS bounce_rate
FROM ({{periods}}) p
LEFT JOIN (SELECT * FROM daily_traffic WHERE traffic_date >= $previous_start AND traffic_date < $end) d
  ON d.traffic_date >= p.first_day AND d.traffic_date < p.end_day
GROUP BY p.period
