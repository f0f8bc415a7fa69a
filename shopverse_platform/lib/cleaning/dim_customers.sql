-- Every customer seen in the profiles, the events or the order exports: the profile's country
-- wins, then the most frequent one of the events (the smallest on a tie), then of the exports.
-- Read from customer_observations (per day, source and country: first and last seen, rows).
WITH seen AS (
    SELECT source, customer_id, min(first_seen) AS first_seen, max(last_seen) AS last_seen
    FROM customer_observations GROUP BY ALL
),
countries AS (
    SELECT source, customer_id, first(country ORDER BY n DESC, country) AS country
    FROM (SELECT source, customer_id, country, sum(n) AS n FROM customer_observations
          WHERE country IS NOT NULL GROUP BY ALL)
    GROUP BY ALL
),
seen_in_events AS (
    SELECT s.customer_id, s.first_seen, s.last_seen, c.country AS event_country
    FROM seen s LEFT JOIN countries c USING (source, customer_id) WHERE s.source = 'clean_events'
),
seen_in_orders AS (
    SELECT s.customer_id, s.first_seen, s.last_seen, c.country AS order_country
    FROM seen s LEFT JOIN countries c USING (source, customer_id) WHERE s.source = 'clean_order_lines'
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
