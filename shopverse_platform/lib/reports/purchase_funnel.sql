-- Sessions per step of the purchase funnel over [$start, $end): closed (steps in order) and open.
SELECT step_number, step, sum(sessions)::DOUBLE AS sessions, sum(open_sessions)::DOUBLE AS open_sessions
FROM funnel_daily
WHERE funnel = 'purchase' AND funnel_date >= $start AND funnel_date < $end
GROUP BY ALL ORDER BY step_number
