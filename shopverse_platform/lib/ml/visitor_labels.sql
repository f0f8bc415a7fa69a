-- Per visitor, purchases and their value in [$before, $label_end). A purchase counts for every visitor
-- of the population it can be traced to with what was known at the cutoff: its user, the user its
-- device was mapped to before the cutoff, or the device itself when it was still anonymous then (a
-- device that logs in only after the cutoff and buys is the same person as the anonymous visitor of
-- the features).
WITH devices AS (
    SELECT anonymous_id, arg_max(user_id, event_ts) AS device_user FROM {{events}}
    WHERE event_date < $before AND user_id IS NOT NULL AND anonymous_id IS NOT NULL GROUP BY anonymous_id
),
bought AS (
    SELECT e.user_id, d.device_user, e.anonymous_id, e.value
    FROM {{events}} e LEFT JOIN devices d USING (anonymous_id)
    WHERE e.event_name = 'purchase' AND e.event_date >= $before AND e.event_date < $label_end
),
credited AS (
    SELECT user_id AS entity_id, value FROM bought WHERE user_id IS NOT NULL
    UNION ALL
    SELECT device_user, value FROM bought WHERE device_user IS NOT NULL AND device_user IS DISTINCT FROM user_id
    UNION ALL
    SELECT anonymous_id, value FROM bought WHERE device_user IS NULL AND anonymous_id IS NOT NULL
)
-- purchase values summed exactly as DECIMAL, then made DOUBLE: the same label in any thread order
SELECT entity_id, count(*) AS future_orders, CAST(coalesce(sum(CAST(value AS DECIMAL(18,3))), 0) AS DOUBLE) AS future_revenue
FROM credited GROUP BY entity_id
