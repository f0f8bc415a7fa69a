-- The period's purchase-funnel conversion: sessions that purchased over sessions started, [$start, $end).
SELECT sum(sessions) FILTER (WHERE step = 'purchase')::DOUBLE / nullif(sum(sessions) FILTER (WHERE step_number = 1), 0)
FROM funnel_daily WHERE funnel = 'purchase' AND funnel_date >= $start AND funnel_date < $end
