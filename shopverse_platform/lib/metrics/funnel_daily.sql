-- One row per UTC day, funnel and step: sessions (started that day, bots left out) that reached the
-- step in order. $purchase_funnel starts with session_start (step 1, every session); its other steps
-- ($purchase_funnel[2:]) and $checkout_funnel are reached from events: a step counts only after the
-- previous one (events in time order; a later event of an earlier step does not undo progress).
WITH days AS (  -- every day of the window gets its rows, of zeros when nothing happened
    SELECT CAST(range AS DATE) AS funnel_date FROM range(CAST($start AS TIMESTAMP), CAST($end AS TIMESTAMP), INTERVAL 1 DAY)
),
paths AS (
    SELECT session_id,
           coalesce(list_reduce(
               list(list_position($purchase_funnel[2:], event_name) ORDER BY event_ts, list_position($purchase_funnel[2:], event_name))
                   FILTER (WHERE list_contains($purchase_funnel[2:], event_name)),
               lambda acc, x: CASE WHEN x = acc + 1 THEN x ELSE acc END, 0), 0) AS purchase_reached,
           coalesce(list_reduce(
               list(list_position($checkout_funnel, event_name) ORDER BY event_ts, list_position($checkout_funnel, event_name))
                   FILTER (WHERE list_contains($checkout_funnel, event_name)),
               lambda acc, x: CASE WHEN x = acc + 1 THEN x ELSE acc END, 0), 0) AS checkout_reached
    FROM _window_events_flagged  -- the session's day and bot flag are applied in progress
    WHERE list_contains($purchase_funnel[2:], event_name)
    GROUP BY session_id
),
progress AS (
    SELECT s.session_date, s.session_id, coalesce(p.purchase_reached, 0) AS purchase_reached,
           coalesce(p.checkout_reached, 0) AS checkout_reached
    FROM _window_sessions s LEFT JOIN paths p USING (session_id)
    WHERE s.session_date >= $start AND s.session_date < $end AND NOT s.is_bot
),
funnel_steps AS (  -- (funnel, step_number, step, how far the progress count lags the step number)
    SELECT 'purchase' AS funnel, CAST(generate_subscripts($purchase_funnel, 1) AS INTEGER) AS step_number,
           unnest($purchase_funnel) AS step, 1 AS step_shift
    UNION ALL
    SELECT 'checkout', CAST(generate_subscripts($checkout_funnel, 1) AS INTEGER), unnest($checkout_funnel), 0
),
steps AS (  -- sessions that reached the step (progress >= its number less the shift)
    SELECT d.funnel_date, s.funnel, s.step_number, s.step,
           count(p.session_id) FILTER (
               WHERE CASE s.funnel WHEN 'purchase' THEN p.purchase_reached ELSE p.checkout_reached END
                     >= s.step_number - s.step_shift) AS sessions
    FROM days d CROSS JOIN funnel_steps s
    LEFT JOIN progress p ON p.session_date = d.funnel_date
    GROUP BY ALL
),
rated AS (
    SELECT *,
           lag(sessions) OVER (PARTITION BY funnel_date, funnel ORDER BY step_number) AS previous_sessions,
           first(sessions) OVER (PARTITION BY funnel_date, funnel ORDER BY step_number) AS first_sessions
    FROM steps
)
SELECT funnel_date, funnel, CAST(step_number AS INTEGER) AS step_number, step, sessions,
       CASE WHEN previous_sessions > 0 THEN sessions / previous_sessions END AS conversion_from_previous,
       CASE WHEN previous_sessions > 0 THEN 1 - sessions / previous_sessions END AS drop_off_rate,
       CASE WHEN first_sessions > 0 THEN sessions / first_sessions END AS conversion_from_start
FROM rated
ORDER BY funnel_date, funnel DESC, step_number
