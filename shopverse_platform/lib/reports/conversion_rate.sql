-- The period's conversion: sessions with a purchase (open funnel) over sessions, [$start, $end):
-- the one conversion rate of the platform.
SELECT sum(open_sessions) FILTER (WHERE step = 'purchase')::DOUBLE
       / nullif(sum(sessions) FILTER (WHERE step = 'session_start'), 0)
FROM funnel_daily WHERE funnel = 'purchase' AND funnel_date >= $start AND funnel_date < $end
