-- Conversion of the report's period, [$start, $end), and of the one before it, [$previous_start,
-- $start): sessions with a purchase (open funnel) over sessions, the one conversion rate of the
-- platform; a row each, one read of funnel_daily.
SELECT p.period,
       sum(d.open_sessions) FILTER (WHERE d.step = 'purchase')::DOUBLE
       / nullif(sum(d.sessions) FILTER (WHERE d.step = 'session_start'), 0) AS conversion_rate
FROM ({{periods}}) p
LEFT JOIN (SELECT * FROM funnel_daily WHERE funnel = 'purchase' AND funnel_date >= $previous_start AND funnel_date < $end) d
  ON d.funnel_date >= p.first_day AND d.funnel_date < p.end_day
GROUP BY p.period
