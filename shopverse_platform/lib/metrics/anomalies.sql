-- Every anomaly of the whole history, with how it was found (see anomalies.py for the methods).
-- The sessions are read as two relations spliced in (anomalies.py): the sessions started per hour
-- (hour_ts, sessions, human_sessions: session_hours) and session_stats.sql over the busy sessions
-- (at least $busy_min_events events; every bot is one of them), with epm, seconds and the bot flag.
-- busy_rated is NOT MATERIALIZED: read by three parts, DuckDB would hold every column of it at once.
-- orders and session_hours are each read once (MATERIALIZED, the columns used): on a DuckLake every
-- read of a table pays its catalog queries and a Parquet scan, and this query read orders four times
-- and session_hours twice (the whole statement 91-96 ms against 60-64 ms read once on the bench lake
-- of 30 days at 40k events a day; on its DuckDB file the same 24-37 ms either way, alternated).
WITH hour_counts AS MATERIALIZED (SELECT hour_ts, human_sessions FROM {{session_hours}}),
all_orders AS MATERIALIZED (
    SELECT source, document_id, order_date, order_ts, customer_id, gross_amount, net_amount, credited_amount,
           is_order, is_credit
    FROM orders
),
busy_rated AS NOT MATERIALIZED (SELECT * FROM {{busy_sessions}} WHERE events >= $busy_min_events),
-- traffic: sessions started per hour over every hour of the observed days (an hour without a
-- session has no row in session_hours: it counts 0)
hours AS (
    SELECT range AS hour_ts FROM (SELECT min(hour_ts) AS lo, max(hour_ts) AS hi FROM hour_counts),
         range(date_trunc('day', lo), date_trunc('day', hi) + INTERVAL 1 DAY, INTERVAL 1 HOUR)
    WHERE lo IS NOT NULL
),
hourly AS (
    SELECT h.hour_ts, coalesce(s.human_sessions, 0) AS sessions
    FROM hours h LEFT JOIN hour_counts s USING (hour_ts)
),
-- each hour beside the same hour of the weeks around it: the reference hour is computed first, so
-- the join below is an equality of two columns (a hash join); written as
-- "ON r.hour_ts = h.hour_ts + to_days(o.days)" DuckDB planned every hour against every hour (a cross
-- product filtered: 199 M pairs at 240 days, quadratic in the history)
hour_references AS (
    SELECT h.hour_ts, h.sessions, h.hour_ts + to_days(o.days) AS reference_ts
    FROM hourly h CROSS JOIN (VALUES (-21), (-14), (-7), (7), (14), (21)) o(days)
),
traffic AS (
    SELECT h.hour_ts, any_value(h.sessions) AS observed, median(r.sessions) AS baseline, mad(r.sessions) AS mad,
           count(r.sessions) AS reference_count
    FROM hour_references h JOIN hourly r ON r.hour_ts = h.reference_ts
    GROUP BY h.hour_ts HAVING count(r.sessions) >= 2
),
traffic_scored AS (
    SELECT *, (observed - baseline) / greatest(1.4826 * mad, sqrt(baseline) + 1, 0.1 * baseline) AS score FROM traffic
),
-- orders: log value against the shop (per source) and the customer's other orders
o AS (
    SELECT source, document_id, order_date, order_ts, customer_id, gross_amount, CAST(gross_amount AS DOUBLE) AS value,
           ln(CAST(gross_amount AS DOUBLE)) AS lv
    FROM all_orders WHERE is_order AND gross_amount > 0
),
shop AS (  -- the fence: what 99 % of the source's orders stay below (needs >= 100 orders); the median is the typical order
    SELECT source, quantile_cont(value, 0.99) AS p99, median(value) AS p50 FROM o GROUP BY source HAVING count(*) >= 100
),
customer AS (
    SELECT a.source, a.document_id, count(b.lv) AS others, median(b.lv) AS med, mad(b.lv) AS mad
    FROM o a JOIN o b ON a.source = b.source AND a.customer_id = b.customer_id AND a.document_id <> b.document_id
    GROUP BY a.source, a.document_id
),
credited AS (
    SELECT source, order_id, sum(credited_amount) AS credited, min(order_date) AS first_credit
    FROM order_lines WHERE document_type <> 'order' AND order_id IS NOT NULL AND is_sales GROUP BY ALL
),
orders_scored AS (
    SELECT o.*, shop.p99 AS shop_p99, shop.p50 AS shop_median, o.value / shop.p99 AS shop_ratio,
           coalesce(c.others, 0) AS customer_orders, exp(c.med) AS customer_median,
           CASE WHEN c.others >= 2 THEN (o.lv - c.med) / greatest(1.4826 * c.mad, 0.5) END AS customer_score,
           coalesce(cr.credited, 0) AS credited, cr.first_credit
    FROM o JOIN shop USING (source)
    LEFT JOIN customer c USING (source, document_id)
    LEFT JOIN credited cr ON cr.source = o.source AND cr.order_id = o.document_id
),
unusual_orders AS (
    SELECT * FROM orders_scored
    WHERE shop_ratio >= $order_shop_ratio AND (customer_score IS NULL OR customer_score >= $order_customer_score)
),
-- a credit of exactly the order's value by the same customer afterwards cancels it even when the
-- export did not link it line by line (e.g. a whole invoice reversed by one manual line)
matching_credit AS (
    SELECT u.source, u.document_id, arg_min(c.document_id, c.order_ts) AS credit_id, min(c.order_date) AS credit_date
    FROM unusual_orders u JOIN all_orders c
      ON c.source = u.source AND c.customer_id = u.customer_id AND c.is_credit
     AND c.credited_amount = u.gross_amount AND c.order_ts >= u.order_ts
    GROUP BY ALL
),
-- sessions: events per minute
busy AS (SELECT * FROM busy_rated WHERE NOT is_bot),
busy_norm AS (  -- a norm needs a population: fewer than 30 busy sessions judge nothing
    SELECT median(ln(epm)) AS med, greatest(mad(ln(epm)), 0.05) AS mad FROM busy HAVING count(*) >= 30
),
-- revenue: net revenue per day over every day of the observed span
days AS (
    SELECT CAST(range AS DATE) AS day FROM (SELECT min(order_date) AS lo, max(order_date) AS hi FROM all_orders),
         range(CAST(lo AS TIMESTAMP), CAST(hi AS TIMESTAMP) + INTERVAL 1 DAY, INTERVAL 1 DAY)
    WHERE lo IS NOT NULL
),
daily AS (
    SELECT d.day, CAST(coalesce(sum(x.net_amount), 0) AS DOUBLE) AS net
    FROM days d LEFT JOIN all_orders x ON x.order_date = d.day GROUP BY d.day
),
revenue AS (
    SELECT d.day, any_value(d.net) AS observed, median(r.net) AS baseline,
           median(ln(1 + greatest(r.net, 0))) AS log_baseline, mad(ln(1 + greatest(r.net, 0))) AS log_mad,
           count(r.net) AS reference_count
    FROM (SELECT d.day, d.net, d.day + o.days AS reference_day  -- an equality join, as hour_references
          FROM daily d CROSS JOIN (VALUES (-28), (-21), (-14), (-7), (7), (14), (21), (28)) o(days)) d
    JOIN daily r ON r.day = d.reference_day
    GROUP BY d.day HAVING count(r.net) >= 3
),
revenue_scored AS (  -- on the log scale: revenue varies by factors, and a closed day (0) must stand out
    SELECT *, (ln(1 + greatest(observed, 0)) - log_baseline) / greatest(1.4826 * log_mad, 0.25) AS score
    FROM revenue WHERE baseline > 0
),
-- every finding in one shape; the id and severity are added once below
found AS (
    SELECT CASE WHEN score > 0 THEN 'traffic_spike' ELSE 'traffic_drop' END AS anomaly_type,
           CAST(hour_ts AS DATE) AS anomaly_date, CAST(hour_ts AS TIMESTAMP) AS anomaly_ts,
           CAST('events' AS VARCHAR) AS source, 'hour' AS entity_type,
           CAST(strftime(hour_ts, '%Y-%m-%d %H:00') AS VARCHAR) AS entity_id,
           'sessions_per_hour_vs_same_hour_weekday_median' AS method, CAST(observed AS DOUBLE) AS observed,
           CAST(baseline AS DOUBLE) AS expected, CAST(score AS DOUBLE) AS score,
           CAST($traffic_score AS DOUBLE) AS threshold,
           CAST(json_object('references', reference_count, 'mad', mad) AS VARCHAR) AS detail
    FROM traffic_scored WHERE abs(score) >= $traffic_score
    UNION ALL
    SELECT 'unusual_order', CAST(order_date AS DATE), CAST(order_ts AS TIMESTAMP), CAST(source AS VARCHAR), 'order',
           CAST(document_id AS VARCHAR), 'order_value_vs_shop_p99_and_customer_median', CAST(value AS DOUBLE),
           CAST(shop_median AS DOUBLE), CAST(shop_ratio AS DOUBLE), CAST($order_shop_ratio AS DOUBLE),
           CAST(json_object('shop_p99', shop_p99, 'customer_id', customer_id, 'customer_orders', customer_orders, 'customer_median', customer_median,
                            'customer_score', customer_score, 'credited_later', credited, 'first_credit', first_credit,
                            'matching_credit', credit_id, 'matching_credit_date', credit_date,
                            'cancelled_share', CASE WHEN credit_id IS NOT NULL THEN 1.0 ELSE least(credited / value, 1.0) END)
                AS VARCHAR)
    FROM unusual_orders LEFT JOIN matching_credit USING (source, document_id)
    UNION ALL
    SELECT 'bot', CAST(session_start AS DATE), CAST(session_start AS TIMESTAMP), CAST('events' AS VARCHAR), 'session',
           CAST(session_id AS VARCHAR), 'events_per_minute', CAST(epm AS DOUBLE), CAST(exp(n.med) AS DOUBLE),
           CAST(epm AS DOUBLE), CAST($bot_events_per_minute AS DOUBLE),
           CAST(json_object('events', events, 'seconds', seconds, 'anonymous_id', visitor_id, 'user_id', user_id) AS VARCHAR)
    FROM busy_rated LEFT JOIN busy_norm n ON true WHERE is_bot
    UNION ALL
    SELECT 'hyperactive_session', CAST(session_start AS DATE), CAST(session_start AS TIMESTAMP), CAST('events' AS VARCHAR),
           'session', CAST(session_id AS VARCHAR), 'log_events_per_minute_robust_z', CAST(epm AS DOUBLE),
           CAST(exp(n.med) AS DOUBLE), CAST((ln(epm) - n.med) / (1.4826 * n.mad) AS DOUBLE),
           CAST($hyperactive_score AS DOUBLE),
           CAST(json_object('events', events, 'seconds', seconds, 'anonymous_id', visitor_id, 'user_id', user_id) AS VARCHAR)
    FROM busy CROSS JOIN busy_norm n WHERE (ln(epm) - n.med) / (1.4826 * n.mad) >= $hyperactive_score
    UNION ALL
    SELECT 'revenue_drop', CAST(day AS DATE), CAST(day AS TIMESTAMP), CAST(NULL AS VARCHAR), 'day', CAST(day AS VARCHAR),
           'log_daily_net_revenue_vs_same_weekday_median', CAST(observed AS DOUBLE), CAST(baseline AS DOUBLE),
           CAST(score AS DOUBLE), CAST($revenue_drop_score AS DOUBLE),
           CAST(json_object('references', reference_count, 'log_mad', log_mad) AS VARCHAR)
    FROM revenue_scored WHERE score <= -$revenue_drop_score
)
SELECT md5(anomaly_type || '|' || entity_id) AS anomaly_id, anomaly_type, anomaly_date, anomaly_ts, source, entity_type,
       entity_id, method, observed, expected, score, threshold,
       -- the bounds in DECIMAL, as 1.4 x a threshold written as a literal was: 1.4 x 3.0 is 4.2, not 4.199999999999999
       CASE WHEN abs(score) >= 1.4 * CAST(threshold AS DECIMAL(18,9)) THEN 'high'
            WHEN abs(score) >= 1.2 * CAST(threshold AS DECIMAL(18,9)) THEN 'medium' ELSE 'low' END AS severity,
       detail
FROM found
ORDER BY anomaly_date, anomaly_type, entity_id
