-- One row per UTC day, funnel and step: sessions (started that day, bots left out) that reached the
-- step. $purchase_funnel and $checkout_funnel are the steps the shop emits (traffic.funnel_steps), in
-- journey order, and $purchase_numbers / $checkout_numbers their fixed places in the full journey.
-- $purchase_funnel starts with session_start (every session); the other steps are reached from events.
-- Closed funnel (`sessions`): a step counts only after the previous one (events in time order; a later
-- event of an earlier step does not undo progress). Open funnel (`open_sessions`): a session counts
-- at every step whose event it has, in any order. ($checkout_funnel is cast: it may be empty.)
WITH days AS (  -- every day of the window gets its rows, of zeros when nothing happened
    SELECT CAST(range AS DATE) AS funnel_date FROM range(CAST($start AS TIMESTAMP), CAST($end AS TIMESTAMP), INTERVAL 1 DAY)
),
paths AS (
    SELECT session_id,
           coalesce(list_reduce(
               list(list_position($purchase_funnel[2:], event_name) ORDER BY event_ts, list_position($purchase_funnel[2:], event_name)),
               lambda acc, x: CASE WHEN x = acc + 1 THEN x ELSE acc END, 0), 0) AS purchase_reached,
           coalesce(list_reduce(
               list(list_position(CAST($checkout_funnel AS VARCHAR[]), event_name)
                    ORDER BY event_ts, list_position(CAST($checkout_funnel AS VARCHAR[]), event_name))
                   FILTER (WHERE list_contains(CAST($checkout_funnel AS VARCHAR[]), event_name)),
               lambda acc, x: CASE WHEN x = acc + 1 THEN x ELSE acc END, 0), 0) AS checkout_reached,
           list(DISTINCT event_name) AS reached_events
    FROM _window_events_flagged  -- the session's day and bot flag are applied in progress
    WHERE list_contains($purchase_funnel[2:], event_name)
    GROUP BY session_id
),
progress AS (
    SELECT s.session_date, s.session_id, coalesce(p.purchase_reached, 0) AS purchase_reached,
           coalesce(p.checkout_reached, 0) AS checkout_reached, coalesce(p.reached_events, []) AS reached_events
    FROM _window_sessions s LEFT JOIN paths p USING (session_id)
    WHERE s.session_date >= $start AND s.session_date < $end AND NOT s.is_bot
),
funnel_steps AS (  -- (funnel, position in the emitted list, fixed step number, step, progress lag)
    SELECT 'purchase' AS funnel, CAST(generate_subscripts($purchase_funnel, 1) AS INTEGER) AS position,
           unnest($purchase_numbers) AS step_number, unnest($purchase_funnel) AS step, 1 AS step_shift
    UNION ALL
    SELECT 'checkout', CAST(generate_subscripts(CAST($checkout_funnel AS VARCHAR[]), 1) AS INTEGER),
           unnest(CAST($checkout_numbers AS INTEGER[])), unnest(CAST($checkout_funnel AS VARCHAR[])), 0
),
steps AS (  -- closed: progress >= the step's position less the shift; open: the session has the event
    SELECT d.funnel_date, s.funnel, s.step_number, s.step,
           count(p.session_id) FILTER (
               WHERE CASE s.funnel WHEN 'purchase' THEN p.purchase_reached ELSE p.checkout_reached END
                     >= s.position - s.step_shift) AS sessions,
           count(p.session_id) FILTER (
               WHERE s.step = 'session_start' OR list_contains(p.reached_events, s.step)) AS open_sessions,
           count(p.session_id) AS day_sessions
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
       CASE WHEN first_sessions > 0 THEN sessions / first_sessions END AS conversion_from_start,
       open_sessions,
       CASE WHEN day_sessions > 0 THEN open_sessions / day_sessions END AS open_conversion_rate
FROM rated
ORDER BY funnel_date, funnel DESC, step_number
