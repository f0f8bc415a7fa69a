-- Every customer seen in the profiles, the events or the order exports: the profile's country
-- wins, then the most frequent one of the events, then of the exports.
WITH seen_in_events AS (
    SELECT user_id AS customer_id, min(event_ts) AS first_seen, max(event_ts) AS last_seen,
           mode(country) AS event_country, 'events' AS source
    FROM {{events}} WHERE user_id IS NOT NULL GROUP BY 1
),
seen_in_orders AS (
    SELECT customer_id, min(invoice_ts) AS first_seen, max(invoice_ts) AS last_seen,
           mode(country) AS order_country, 'order_exports' AS source
    FROM {{lines}} WHERE customer_id IS NOT NULL GROUP BY 1
),
profiles AS ({{profiles}}),
ids AS (
    SELECT customer_id FROM profiles UNION SELECT customer_id FROM seen_in_events
    UNION SELECT customer_id FROM seen_in_orders
)
SELECT ids.customer_id,
       p.age_group, coalesce(p.profile_country, e.event_country, o.order_country) AS country,
       p.signup_date, p.acquisition_channel,
       least(e.first_seen, o.first_seen) AS first_seen, greatest(e.last_seen, o.last_seen) AS last_seen,
       CASE WHEN e.customer_id IS NOT NULL AND o.customer_id IS NOT NULL THEN 'events+order_exports'
            WHEN o.customer_id IS NOT NULL THEN 'order_exports'
            WHEN e.customer_id IS NOT NULL THEN 'events' ELSE 'profile_only' END AS source
FROM ids LEFT JOIN profiles p USING (customer_id) LEFT JOIN seen_in_events e USING (customer_id)
LEFT JOIN seen_in_orders o USING (customer_id)
WHERE ids.customer_id IS NOT NULL
ORDER BY ids.customer_id
