-- Steps of the window's funnels with more sessions than the step before.
SELECT funnel_date, funnel, step FROM (
    SELECT *, lag(sessions) OVER (PARTITION BY funnel_date, funnel ORDER BY step_number) AS previous
    FROM funnel_daily WHERE funnel_date >= $start AND funnel_date < $end)
WHERE sessions > previous ORDER BY 1, 2
